package console_test

import (
	"context"
	"html"
	"net/http"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
)

// send produces a PostCreated to content-events, with traceparent when
// given, and returns it.
func (f *fixture) send(content, traceparent string) cloudevents.Event {
	f.t.Helper()
	e, err := f.codec.New(&eventsv1.PostCreated{PostId: id.NewPostID().String(), UserId: id.NewUserID().String(),
		Content: content, Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	if traceparent != "" {
		e.SetExtension("traceparent", traceparent)
	}
	if err := f.prod.Send(context.Background(), kafka.Record{Topic: catalog.ContentEvents, Event: e}); err != nil {
		f.t.Fatal(err)
	}
	return e
}

// A topic's page shows its latest records, newest first and no more than
// asked, each with its attributes and its data decoded to JSON, and a
// link to its trace when it carries a well-formed traceparent.
func TestTopicShowsTheLatestEventsDecoded(t *testing.T) {
	f := newFixture(t)
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	oldest := f.send("the oldest <b>post</b>", "")
	traced := f.send("a traced post", "00-"+trace+"-00f067aa0ba902b7-01")
	newest := f.send("the newest post", "00-"+strings.ToUpper(trace)+"-00f067aa0ba902b7-01")

	code, body := f.get("/topics/content-events?n=2")
	if code != http.StatusOK {
		t.Fatalf("GET topic: %d\n%s", code, body)
	}
	if strings.Contains(body, oldest.ID()) || !strings.Contains(body, traced.ID()) || !strings.Contains(body, newest.ID()) {
		t.Fatalf("n=2 shows the wrong events:\n%s", body)
	}
	if strings.Index(body, newest.ID()) > strings.Index(body, traced.ID()) {
		t.Error("the newest event is not shown first")
	}
	for _, want := range []string{
		`"content": "a traced post"`, "com.nova.content.post.created", "/nova/content-service", "partitionkey",
		`href="` + traceUI + `/trace/` + trace + `"`,
	} {
		if !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("the page lacks %q:\n%s", want, body)
		}
	}
	// The upper-case traceparent is malformed: no second link.
	if n := strings.Count(body, "/trace/"); n != 1 {
		t.Errorf("%d trace links, want 1 (the malformed traceparent gets none)", n)
	}

	code, body = f.get("/topics/content-events")
	if code != http.StatusOK || !strings.Contains(body, "the oldest &lt;b&gt;post&lt;/b&gt;") || strings.Contains(body, "<b>post</b>") {
		t.Errorf("the data is not escaped, or the default count leaves out the oldest:\n%s", body)
	}
	if code, _ := f.get("/topics/no-such-topic"); code != http.StatusNotFound {
		t.Errorf("a topic the run does not know: %d, want 404", code)
	}
	if code, body := f.get("/topics/" + catalog.FeedUpdates); code != http.StatusOK || !strings.Contains(body, "No records on feed-updates yet") {
		t.Errorf("an empty topic: %d\n%s", code, body)
	}
}
