package function_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	function "github.com/nova-social/nova/functions/media-attach"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/pendingmedia"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// Served through func-go's http runtime, as in production: a
// MediaUploaded without a post lands in the pending set; an undecodable
// event and someone else's post answer 4xx (dead-letter at once).
func TestOverHTTP(t *testing.T) {
	k := testrig.Kafka(t)
	fn := eventfunctest.Serve(t, function.New(), map[string]string{"DATABASE_URL": testrig.PostgresURL(t),
		"REDIS_URL": testrig.RedisURL(t), "KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ",")})
	send := func(e cloudevents.Event) int {
		code, _ := fn.Send(t, e)
		return code
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
