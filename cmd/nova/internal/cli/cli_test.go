package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/cli"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// nova send produces a typed event; nova tail reads it back decoded, beside
// a plain record like the design document's console-producer test.
func TestSendThenTail(t *testing.T) {
	k := testrig.Kafka(t)
	brokers := strings.Join(k.ListenAddrs(), ",")

	code, out, errs := run(t, "", "send", "--kafka-brokers", brokers, "com.nova.content.post.created",
		`{"post_id":"0193a1b2-0002-7000-8000-000000000001","user_id":"0193a1b2-0001-7000-8000-000000000001","content":"hello","type":"TEXT","visibility":"PUBLIC","tags":["a"]}`)
	if code != 0 || !strings.Contains(out, "to content-events key=0193a1b2-0001-7000-8000-000000000001") {
		t.Fatalf("send: %d %q %q", code, out, errs)
	}
	// JSON from stdin.
	if code, out, errs := run(t, `{"post_id":"0193a1b2-0002-7000-8000-000000000002","user_id":"0193a1b2-0001-7000-8000-000000000001"}`, "send", "--kafka-brokers", brokers, "com.nova.content.post.deleted"); code != 0 {
		t.Fatalf("send from stdin: %d %q %q", code, out, errs)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	plain := &kgo.Record{Topic: catalog.ContentEvents, Key: []byte("0193a1b2-0001-7000-8000-000000000001"), Value: []byte(`{"post_id":"0193a1b2-0002-7000-8000-000000000003","user_id":"0193a1b2-0001-7000-8000-000000000001","content":"x"}`)}
	junk := &kgo.Record{Topic: catalog.ContentEvents, Key: []byte("0193a1b2-0001-7000-8000-000000000001"), Value: []byte(`not json`)}
	if err := cl.ProduceSync(context.Background(), plain, junk).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := cli.Tail(ctx, k.ListenAddrs(), kafka.Security{}, catalog.ContentEvents, true, 4, false, &buf); err != nil {
		t.Fatal(err)
	}
	var lines []cli.Line
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var l cli.Line
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 4 {
		t.Fatalf("tail printed %d events: %s", len(lines), buf.String())
	}
	byType := map[string]cli.Line{}
	for _, l := range lines {
		byType[l.Type] = l
	}
	created := byType["com.nova.content.post.created"]
	if created.Error != "" || !strings.Contains(string(created.Data), `"type":"POST_TYPE_TEXT"`) || created.Key != "0193a1b2-0001-7000-8000-000000000001" || created.Subject != "0193a1b2-0002-7000-8000-000000000001" {
		t.Errorf("created = %+v (data %s)", created, created.Data)
	}
	if l, ok := byType["com.nova.content.post.deleted"]; !ok || l.Error != "" {
		t.Errorf("deleted = %+v", l)
	}
	if l := byType["com.nova.content.post.created (plain record)"]; !strings.Contains(string(l.Data), "0193a1b2-0002-7000-8000-000000000003") {
		t.Errorf("plain record = %+v", l)
	}
	var sawJunk bool
	for _, l := range lines {
		if l.Raw == "not json" && l.Error != "" {
			sawJunk = true
		}
	}
	if !sawJunk {
		t.Errorf("undecodable record not shown with its reason: %s", buf.String())
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	k := testrig.Kafka(t)
	brokers := strings.Join(k.ListenAddrs(), ",")
	for name, args := range map[string][]string{
		"unknown type": {"send", "--kafka-brokers", brokers, "com.nova.nope", `{}`},
		"no key":       {"send", "--kafka-brokers", brokers, "com.nova.content.post.created", `{"post_id":"p"}`},
		"bad field":    {"send", "--kafka-brokers", brokers, "com.nova.content.post.created", `{"user_id":"u","nope":1}`},
	} {
		if code, _, errs := run(t, "", args...); code != 1 || errs == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, errs)
		}
	}
	if code, _, _ := run(t, "", "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if code, _, _ := run(t, "", "tail"); code != 2 {
		t.Errorf("tail without topic: exit %d, want 2", code)
	}
}

func TestLag(t *testing.T) {
	k := testrig.Kafka(t)
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 5 {
		r := &kgo.Record{Topic: catalog.MediaEvents, Partition: 0, Value: []byte{byte(i)}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offs := kadm.Offsets{}
	offs.AddOffset(catalog.MediaEvents, 0, 2, -1)
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "media-group", offs); err != nil {
		t.Fatal(err)
	}
	rows, err := broker.Lag(ctx, k.ListenAddrs(), kafka.Security{})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, r := range rows {
		if r.Group == "media-group" && r.Topic == catalog.MediaEvents && r.Partition == 0 {
			if r.Committed != 2 || r.End != 5 || r.Lag != 3 {
				t.Errorf("row %+v, want committed 2 end 5 lag 3", r)
			}
		}
		if r.Lag > 0 {
			total += r.Lag
		}
	}
	if total != 3 {
		t.Errorf("total lag %d, want 3: %+v", total, rows)
	}
	var out bytes.Buffer
	cli.WriteLag(&out, rows)
	if !strings.Contains(out.String(), "media-group: total lag 3") {
		t.Errorf("table:\n%s", out.String())
	}
}
