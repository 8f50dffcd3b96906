package function_test

import (
	"context"
	"net/http"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/jackc/pgx/v5/pgxpool"

	function "github.com/nova-social/nova/functions/dead-letter"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/funchost"
	"github.com/nova-social/nova/shared/testrig"
)

// The function served as production serves it (func-go's CloudEvents
// service) stores a binary-mode dead letter and acknowledges it.
func TestDeadLetterFunction(t *testing.T) {
	ctx := context.Background()
	dsn := testrig.PostgresURL(t)
	f, err := funchost.Serve(ctx, funchost.Options{
		Name: "dead-letter", Instance: function.New(), Invoke: funchost.InvokeCloudEvent,
		Addr: "127.0.0.1:0", Config: map[string]string{"DATABASE_URL": dsn},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop(ctx)

	c, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	e := cloudevents.NewEvent()
	e.SetID("dl-1")
	e.SetSource("/nova/identity-service")
	e.SetType("com.nova.identity.user.registered")
	_ = e.SetData("application/json", map[string]string{"user_id": "u1"})
	e.SetExtension(store.ExtErrorCode, "500")
	e.SetExtension(store.ExtKafkaTopic, "user-events")
	for range 2 { // a redelivery is acknowledged too
		res := c.Send(cloudevents.ContextWithTarget(ctx, f.URL()), e)
		var hr *cehttp.Result
		if !cloudevents.IsACK(res) || !cloudevents.ResultAs(res, &hr) || hr.StatusCode >= http.StatusMultipleChoices {
			t.Fatalf("send: %v", res)
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

func TestDeadLetterNotReadyWithoutDatabase(t *testing.T) {
	d := function.New()
	if ok, _ := d.Ready(context.Background()); ok {
		t.Fatal("ready before Start")
	}
	if err := d.Start(context.Background(), map[string]string{}); err == nil {
		t.Fatal("started without DATABASE_URL")
	}
}
