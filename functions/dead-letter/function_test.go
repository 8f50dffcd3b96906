package function_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	fhttp "knative.dev/func-go/http"

	function "github.com/nova-social/nova/functions/dead-letter"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/testrig"
)

// The function served as production serves it (func-go's http runtime)
// stores a binary-mode dead letter and acknowledges it.
func TestDeadLetterFunction(t *testing.T) {
	ctx := context.Background()
	dsn := testrig.PostgresURL(t)
	fn := eventfunctest.Serve(t, function.New(), map[string]string{"DATABASE_URL": dsn})

	e := cloudevents.NewEvent()
	e.SetID("dl-1")
	e.SetSource("/nova/identity-service")
	e.SetType("com.nova.identity.user.registered")
	_ = e.SetData("application/json", map[string]string{"user_id": "u1"})
	e.SetExtension(delivery.ExtErrorCode, "500")
	e.SetExtension(delivery.ExtKafkaTopic, "user-events")
	for range 2 { // a redelivery is acknowledged too
		if code, body := fn.Send(t, e); code != http.StatusOK {
			t.Fatalf("send: %d %s", code, body)
		}
	}

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	got, err := store.New(pool).List(ctx, store.Filter{Topic: "user-events"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "dl-1" || got[0].ErrorCode != 500 {
		t.Fatalf("stored %+v", got)
	}
}

// Without a dispatcher's identity (authentication switched off) an event
// is still stored, but the topic, partition and offset it claims are not:
// nothing a stranger posts can be put on a topic by `nova replay`. With
// authentication on, a stranger is refused outright.
func TestDeadLetterTrustsCoordinatesOnlyFromADispatcher(t *testing.T) {
	ctx := context.Background()
	dsn := testrig.PostgresURL(t)
	open := eventfunctest.ServeEnv(t, function.New(), map[string]string{"DATABASE_URL": dsn, sender.EnvAuth: "off"})
	planted := cloudevents.NewEvent()
	planted.SetID("planted-1")
	planted.SetSource("/nova/content-service")
	planted.SetType("com.nova.content.post.created")
	_ = planted.SetData("application/json", map[string]string{"post_id": "p1"})
	planted.SetExtension(delivery.ExtKafkaTopic, "content-events")
	planted.SetExtension(delivery.ExtKafkaPartition, "0")
	planted.SetExtension(delivery.ExtKafkaOffset, "7")
	if code, body := eventfunctest.Send(t, open, planted); code != http.StatusOK {
		t.Fatalf("send: %d %s", code, body)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	got, err := store.New(pool).List(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Topic != "" || got[0].Partition != nil || got[0].Offset != nil {
		t.Fatalf("stored %+v, want the event without the coordinates it claimed", got)
	}

	locked := eventfunctest.Serve(t, function.New(), map[string]string{"DATABASE_URL": dsn})
	planted.SetID("planted-2")
	if code, body := locked.As(sender.Ref{}).Send(t, planted); code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated send: %d %s, want 401", code, body)
	}
	if code, body := locked.Send(t, planted); code != http.StatusOK {
		t.Fatalf("the dispatcher's send: %d %s", code, body)
	}
	if got, err = store.New(pool).List(ctx, store.Filter{Topic: "content-events"}); err != nil || len(got) != 1 || got[0].ID != "planted-2" {
		t.Fatalf("from the dispatcher: %+v %v, want its coordinates kept", got, err)
	}
}

func TestDeadLetterNotReadyWithoutDatabase(t *testing.T) {
	d := function.New()
	if ok, _ := d.Ready(context.Background()); ok {
		t.Fatal("ready before Start")
	}
	if err := d.Start(context.Background(), map[string]string{}); err == nil {
		t.Fatal("started without DATABASE_URL")
	}
}

// The store unreachable at start: the function waits, not ready, and
// answers deliveries with 503 so the source retries them (a dead letter
// acknowledged without being stored would be lost).
func TestDeadLetterWaitsForItsDatabase(t *testing.T) {
	d := function.New()
	iss := eventfunctest.NewIssuer(t)
	if err := d.Start(context.Background(), iss.Env(map[string]string{"DATABASE_URL": "postgres://nova@127.0.0.1:1/nova?connect_timeout=1"})); err != nil {
		t.Fatalf("Start with the database down: %v", err)
	}
	defer d.Stop(context.Background())
	srv := httptest.NewServer(fhttp.New(d).Handler)
	defer srv.Close()
	fn := iss.Server(srv.URL, "dead-letter")
	e := cloudevents.NewEvent()
	e.SetID("dl-2")
	e.SetSource("/nova/identity-service")
	e.SetType("com.nova.identity.user.registered")
	if code, body := fn.Send(t, e); code != http.StatusServiceUnavailable {
		t.Fatalf("delivery while the database is down: %d %s, want 503", code, body)
	}
	if code, body := eventfunctest.Get(t, srv.URL+"/health/readiness"); code == http.StatusOK || !strings.Contains(body, "dead-letter") {
		t.Fatalf("readiness %d %q, want not ready naming the function", code, body)
	}
}
