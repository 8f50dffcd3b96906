package console_test

import (
	"context"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/cmd/nova/internal/records"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/kafka"
)

// deadLetter stores e as the dispatcher dead-letters it after feed-fanout
// refused the record it was read from with status and reason.
func (f *fixture) deadLetter(e cloudevents.Event, status int, reason string) records.Line {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lines, err := records.Latest(ctx, f.brokers, kafka.Security{}, f.codec, catalog.ContentEvents, 1)
	if err != nil || len(lines) != 1 || lines[0].ID != e.ID() {
		f.t.Fatalf("the record of %s: %+v %v", e.ID(), lines, err)
	}
	rec := lines[0]
	dl := e.Clone()
	dl.SetExtension(delivery.ExtErrorDest, failingDest)
	dl.SetExtension(delivery.ExtErrorCode, strconv.Itoa(status))
	dl.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString([]byte(reason)))
	dl.SetExtension(delivery.ExtKafkaTopic, rec.Topic)
	dl.SetExtension(delivery.ExtKafkaPartition, strconv.Itoa(int(rec.Partition)))
	dl.SetExtension(delivery.ExtKafkaOffset, strconv.FormatInt(rec.Offset, 10))
	if _, err := f.store.Save(ctx, dl); err != nil {
		f.t.Fatal(err)
	}
	return rec
}

var tokenField = regexp.MustCompile(`name="token" value="([^"]+)"`)

// The dead-letter page shows each failed record with every consumer's
// whole reason, the event decoded and a link to its trace; its replay
// button sends the record back to its topic, as nova replay does, and the
// store marks it replayed.
func TestDeadLettersAreListedWholeAndReplayed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const trace = "0af7651916cd43dd8448eb211c80319c"
	e := f.send("refused post", "00-"+trace+"-b7ad6b7169203331-01")
	reason := "feed store unavailable:\n" + strings.Repeat("the whole reason, ", 20) + "<end>"
	rec := f.deadLetter(e, http.StatusBadRequest, reason)

	code, body := f.get("/dead-letters")
	page := html.UnescapeString(body)
	for _, want := range []string{
		`data-event-id="` + e.ID() + `" data-pending="1"`, reason, "feed-fanout", "1 of 1 pending",
		`"content": "refused post"`, traceUI + "/trace/" + trace,
		catalog.ContentEvents + "[" + strconv.Itoa(int(rec.Partition)) + "]@" + strconv.FormatInt(rec.Offset, 10),
	} {
		if code != http.StatusOK || !strings.Contains(page, want) {
			t.Fatalf("GET /dead-letters = %d, want %q in:\n%s", code, want, body)
		}
	}
	if strings.Contains(body, "<end>") {
		t.Error("the reason is not escaped")
	}
	m := tokenField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no replay form:\n%s", body)
	}

	res, err := http.PostForm(f.c.URL()+"dead-letters/replay", url.Values{"token": {m[1]}, "source": {e.Source()}, "id": {e.ID()}})
	if err != nil {
		t.Fatal(err)
	}
	replied := readAll(t, res)
	if res.StatusCode != http.StatusOK || !strings.Contains(replied, "wrote 1 record for 1 dead-letter entry (feed-fanout)") ||
		!strings.Contains(replied, `data-pending="0"`) {
		t.Fatalf("replay: %d\n%s", res.StatusCode, replied)
	}
	got, err := f.store.Get(ctx, e.Source(), e.ID(), failingDest)
	if err != nil || got.ReplayedAt == nil {
		t.Fatalf("after the replay the entry is %+v, %v; want it marked replayed", got.ReplayedAt, err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	lines, err := records.Latest(rctx, f.brokers, kafka.Security{}, f.codec, catalog.ContentEvents, 1)
	if err != nil || len(lines) != 1 || lines[0].ID != e.ID() || lines[0].Offset == rec.Offset || lines[0].Partition != rec.Partition {
		t.Fatalf("the replayed record: %+v %v; want %s again on partition %d", lines, err, e.ID(), rec.Partition)
	}

	// Nothing is left to replay: a second press says so and sends nothing.
	res, err = http.PostForm(f.c.URL()+"dead-letters/replay", url.Values{"token": {m[1]}, "source": {e.Source()}, "id": {e.ID()}})
	if err != nil {
		t.Fatal(err)
	}
	if again := readAll(t, res); !strings.Contains(again, "nothing to replay") {
		t.Errorf("a second replay:\n%s", again)
	}
	if code, body := f.get("/dead-letters?pending=1"); code != http.StatusOK || !strings.Contains(body, "No dead letters.") {
		t.Errorf("pending only, after the replay: %d\n%s", code, body)
	}
}
