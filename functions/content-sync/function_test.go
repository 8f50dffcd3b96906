package function_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	function "github.com/nova-social/nova/functions/content-sync"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/identity/identitytest"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// Served as its image serves it: a PostCreated by an account written
// without content, as a CloudEvent or as a console producer's plain
// record, becomes a post in content; one naming no account is withdrawn,
// its PostDeleted reaching content-events through the function's relay;
// an event content-service cannot have sent answers 4xx.
func TestOutsidePostsAreAdoptedOrWithdrawn(t *testing.T) {
	k := testrig.Kafka(t)
	dsn := testrig.PostgresURL(t)
	ctx := context.Background()
	fn := eventfunctest.Serve(t, function.New(), map[string]string{"DATABASE_URL": dsn, "KAFKA_BROKERS": strings.Join(k.ListenAddrs(), ",")})

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// The function applied identity's migrations when it opened.
	author := identitytest.User(t, pool, "author")
	codec := envelope.NewCodec(catalog.Default())
	created := func(post, user string) cloudevents.Event {
		e, err := codec.New(&eventsv1.PostCreated{PostId: post, UserId: user, Content: "sent by hand",
			Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	adopted, ghost, plain := id.NewPostID().String(), id.NewPostID().String(), id.NewPostID().String()
	nobody := id.NewUserID().String()
	record := cloudevents.NewEvent()
	record.SetID("partition:0/offset:7")
	record.SetSource("/apis/v1/namespaces/nova/kafkasources/content-sync#content-events")
	record.SetType(envelope.KafkaEventType)
	record.SetTime(time.Now())
	if err := record.SetData("application/json", []byte(`{"post_id":"`+plain+`","user_id":"`+author.String()+
		`","content":"hello","type":"TEXT","visibility":"PUBLIC","tags":["kafka","test"]}`)); err != nil {
		t.Fatal(err)
	}
	for i, e := range []cloudevents.Event{created(adopted, author.String()), created(ghost, nobody), record} {
		if code, body := fn.Send(t, e); code != http.StatusOK {
			t.Fatalf("event %d answered %d %s", i, code, body)
		}
	}
	forged := created(id.NewPostID().String(), author.String())
	forged.SetSource("/nova/evil")
	if code := fn.Status(t, forged); code < 400 || code >= 500 {
		t.Fatalf("a PostCreated not from content-service answered %d, want 4xx", code)
	}

	var live, withdrawn int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE deleted_at IS NULL AND id = ANY($1::uuid[])),
			count(*) FILTER (WHERE deleted_at IS NOT NULL AND id = $2)
		FROM posts`, []string{adopted, plain}, ghost).Scan(&live, &withdrawn); err != nil {
		t.Fatal(err)
	}
	if live != 2 || withdrawn != 1 {
		t.Fatalf("posts: %d adopted (want 2), %d withdrawn (want 1)", live, withdrawn)
	}

	// content-events: the ghost's PostDeleted, from content-service, keyed
	// by the user it named; nothing for the adopted posts.
	c := k.Consume(t, catalog.ContentEvents)
	c.Until(t, 1, 20*time.Second)
	time.Sleep(time.Second) // anything more the relay would send
	msgs := c.Until(t, 1, 0)
	if len(msgs) != 1 {
		t.Fatalf("%d records on content-events, want the one PostDeleted", len(msgs))
	}
	d := decode(t, codec, msgs[0])
	del, ok := d.Message.(*eventsv1.PostDeleted)
	if !ok || del.GetPostId() != ghost || del.GetUserId() != nobody || string(msgs[0].Key) != nobody ||
		d.Event.Source() != "/nova/content-service" {
		t.Fatalf("content-events holds %s %v keyed %q from %s, want the ghost's PostDeleted", d.Event.Type(), d.Message, msgs[0].Key, d.Event.Source())
	}
}

func decode(t *testing.T, codec *envelope.Codec, m *sarama.ConsumerMessage) envelope.Decoded {
	t.Helper()
	e, err := kafka.EventFromRecord(m, kafka.SourceRef{Namespace: "test", Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := codec.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
