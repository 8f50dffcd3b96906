package function_test

import (
	"context"
	"net/http"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	function "github.com/nova-social/nova/functions/analytics"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/analytics"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

func host(t *testing.T) (*eventfunctest.Server, *pgxpool.Pool) {
	t.Helper()
	pool := testrig.Postgres(t)
	fn := eventfunctest.Serve(t, function.New(), map[string]string{"DATABASE_URL": pool.Config().ConnString()})
	return fn, pool
}

func TestEngagementsOverHTTPCountOnce(t *testing.T) {
	fn, pool := host(t)
	codec := envelope.NewCodec(catalog.Default())
	author, fan, post := id.NewUserID(), id.NewUserID().String(), id.NewPostID().String()
	for _, kind := range []eventsv1.EngagementKind{eventsv1.EngagementKind_ENGAGEMENT_KIND_VIEW, eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE} {
		e, err := codec.New(&eventsv1.Engagement{EngagementId: uuid.NewString(), PostId: post, UserId: fan, AuthorId: author.String(), Kind: kind,
			OccurredAt: timestamppb.Now()})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 { // delivered, then redelivered twice
			if code := fn.Status(t, e); code != http.StatusOK {
				t.Fatalf("%s answered %d", e.Type(), code)
			}
		}
	}
	svc, err := analytics.New(analytics.Config{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := svc.Post(context.Background(), auth.Principal{UserID: author}, id.PostID(post))
	if err != nil || stats.Views != 1 || stats.Likes != 1 {
		t.Fatalf("stats %+v (%v), want 1 view and 1 like", stats, err)
	}
}

func TestUnusableEventsAreRefusedWith4xx(t *testing.T) {
	fn, _ := host(t)
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetSource("/nova/content-service")
	e.SetType("com.nova.analytics.engagement.recorded")
	if err := e.SetData("application/json", map[string]any{"post_id": 7}); err != nil {
		t.Fatal(err)
	}
	if code := fn.Status(t, e); code < 400 || code >= 500 {
		t.Fatalf("undecodable event answered %d, want a 4xx so the source dead-letters it", code)
	}
}

func TestStartNeedsDatabase(t *testing.T) {
	if err := function.New().Start(context.Background(), map[string]string{}); err == nil {
		t.Fatal("started without DATABASE_URL")
	}
}
