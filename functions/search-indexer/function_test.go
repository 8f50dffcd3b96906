package function_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	function "github.com/nova-social/nova/functions/search-indexer"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/search"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// host serves a started instance as the kn func scaffold does in
// production, on a fresh database.
func host(t *testing.T) (*eventfunctest.Server, *pgxpool.Pool) {
	t.Helper()
	pool := testrig.Postgres(t)
	return eventfunctest.Serve(t, function.New(), map[string]string{"DATABASE_URL": pool.Config().ConnString()}), pool
}

func TestEventsOverHTTPAreSearchable(t *testing.T) {
	fn, pool := host(t)
	codec := envelope.NewCodec(catalog.Default())
	author, fan, postID := id.NewUserID().String(), id.NewUserID().String(), id.NewPostID().String()
	for _, m := range []proto.Message{
		&eventsv1.UserRegistered{UserId: author, Username: "indexed_author", RegisteredAt: timestamppb.Now()},
		&eventsv1.UserFollowed{FollowerId: fan, FolloweeId: author, FollowedAt: timestamppb.Now()},
		&eventsv1.PostCreated{PostId: postID, UserId: author, Content: "indexed over http", Tags: []string{"wire"},
			Visibility: eventsv1.PostVisibility_POST_VISIBILITY_FOLLOWERS_ONLY, CreatedAt: timestamppb.Now()},
		// Not for the index: acknowledged and ignored.
		&eventsv1.Engagement{EngagementId: uuid.NewString(), PostId: postID, UserId: fan, AuthorId: author,
			Kind: eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE, OccurredAt: timestamppb.Now()},
	} {
		e, err := codec.New(m)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // and redelivered
			if code := fn.Status(t, e); code != http.StatusOK {
				t.Fatalf("%s answered %d", e.Type(), code)
			}
		}
	}
	svc, err := search.New(search.Config{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	hits, _, err := svc.Posts(context.Background(), id.UserID(fan), "#wire", nil, 10)
	if err != nil || len(hits) != 1 || hits[0].ID != postID || hits[0].AuthorUsername != "indexed_author" {
		t.Fatalf("follower's search: %+v %v", hits, err)
	}
	users, _, err := svc.Users(context.Background(), "indexed_au", nil, 10)
	if err != nil || len(users) != 1 || users[0].ID != author {
		t.Fatalf("user search: %+v %v", users, err)
	}
}

func TestUnusableEventsAreRefusedWith4xx(t *testing.T) {
	fn, _ := host(t)
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetSource("/nova/content-service")
	e.SetType("com.nova.content.post.created")
	if err := e.SetData("application/json", map[string]any{"post_id": 7}); err != nil {
		t.Fatal(err)
	}
	if code := fn.Status(t, e); code < 400 || code >= 500 {
		t.Fatalf("undecodable event answered %d, want a 4xx so the source dead-letters it", code)
	}
	codec := envelope.NewCodec(catalog.Default())
	// A malformed post id breaks the contract, so no codec builds the
	// event: its data goes in a PostCreated by hand.
	malformed := &eventsv1.PostCreated{PostId: "not-a-uuid", UserId: id.NewUserID().String(), CreatedAt: timestamppb.Now()}
	if _, err := codec.New(malformed); !errors.Is(err, envelope.ErrContract) {
		t.Fatalf("codec built a post %q: %v", malformed.PostId, err)
	}
	bad, err := codec.New(&eventsv1.PostCreated{PostId: id.NewPostID().String(), UserId: malformed.UserId, CreatedAt: malformed.CreatedAt})
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(malformed)
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.SetData(bad.DataContentType(), data); err != nil {
		t.Fatal(err)
	}
	if code := fn.Status(t, bad); code < 400 || code >= 500 {
		t.Fatalf("malformed post id answered %d, want a 4xx", code)
	}
}

func TestStartNeedsDatabase(t *testing.T) {
	if err := function.New().Start(context.Background(), map[string]string{}); err == nil {
		t.Fatal("started without DATABASE_URL")
	}
}
