package function_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"google.golang.org/protobuf/types/known/timestamppb"
	fcloudevents "knative.dev/func-go/cloudevents"

	function "github.com/nova-social/nova/functions/media-attach"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/pendingmedia"
	"github.com/nova-social/nova/shared/testrig"
)

// Served through func-go's CloudEvents middleware, as in production: a
// MediaUploaded without a post lands in the pending set; an undecodable
// event and someone else's post answer 4xx (dead-letter at once).
func TestOverHTTP(t *testing.T) {
	k := testrig.Kafka(t)
	f := function.New()
	if err := f.Start(context.Background(), map[string]string{"DATABASE_URL": testrig.PostgresURL(t),
		"REDIS_URL": testrig.RedisURL(t), "KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ",")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop(context.Background()) })
	srv := httptest.NewServer(fcloudevents.New(f).Handler)
	t.Cleanup(srv.Close)
	if res, err := http.Get(srv.URL + "/health/readiness"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("not ready: %v %v", res, err)
	}
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	send := func(e cloudevents.Event) int {
		var r *cehttp.Result
		if !cloudevents.ResultAs(c.Send(context.Background(), e), &r) {
			t.Fatal("no HTTP result")
		}
		return r.StatusCode
	}
	codec := envelope.NewCodec(catalog.Default())
	user := id.NewUserID()
	ev := &eventsv1.MediaUploaded{MediaId: id.NewMediaID().String(), UserId: user.String(),
		Type: eventsv1.MediaType_MEDIA_TYPE_IMAGE, Url: "/x", UploadedAt: timestamppb.Now()}
	e, err := codec.New(ev)
	if err != nil {
		t.Fatal(err)
	}
	if code := send(e); code != http.StatusOK {
		t.Fatalf("MediaUploaded answered %d", code)
	}
	if ids := testrig.Redis(t).ZRange(context.Background(), pendingmedia.Key(user.String()), 0, -1).Val(); len(ids) != 1 || ids[0] != ev.GetMediaId() {
		t.Fatalf("pending %v", ids)
	}
	ev.PostId = id.NewPostID().String() // a post that does not exist: nothing to do
	if e, _ = codec.New(ev); send(e) != http.StatusOK {
		t.Fatal("missing post not acknowledged")
	}
	bad := cloudevents.NewEvent()
	bad.SetID("x")
	bad.SetSource("/nova/media-service")
	bad.SetType(e.Type())
	bad.SetData("application/json", map[string]any{"media_id": 7})
	if code := send(bad); code < 400 || code >= 500 {
		t.Fatalf("undecodable answered %d, want 4xx", code)
	}
}
