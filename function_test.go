package function_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	fhttp "knative.dev/func-go/http"

	function "github.com/nova-social/nova"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/testrig"
)

func env(t *testing.T, databaseURL string) map[string]string {
	t.Helper()
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := key.MarshalPrivatePEM()
	if err != nil {
		t.Fatal(err)
	}
	e := map[string]string{
		"DATABASE_URL":         databaseURL,
		"REDIS_URL":            testrig.RedisURL(t),
		"KAFKA_BROKERS":        strings.Join(testrig.Kafka(t).ListenAddrs(), ","),
		"NOVA_JWT_PRIVATE_KEY": string(pem),
		"MEDIA_DIR":            t.TempDir(),
		"RATE_LIMIT_NAMESPACE": testrig.ID(),
	}
	maps.Copy(e, testrig.Mail(t).Env())
	return e
}

// A configuration nova-api cannot run with stops it at Start, naming what
// is wrong.
func TestStartRefusesABadConfiguration(t *testing.T) {
	e := env(t, testrig.PostgresURL(t))
	delete(e, "NOVA_JWT_PRIVATE_KEY")
	e["NOVA_JWT_TTL"] = "72h"
	err := function.New().Start(context.Background(), e)
	if err == nil || !strings.Contains(err.Error(), "TTL") {
		t.Fatalf("Start = %v, want the TTL named", err)
	}
}

// With PostgreSQL not answering, nova-api starts, stays alive, answers
// not-ready with the reason and 503 to requests, and becomes ready once the
// database answers.
func TestWaitsForItsDatabase(t *testing.T) {
	dbURL, err := url.Parse(testrig.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	addr, up := testrig.LateService(t, dbURL.Host)
	dbURL.Host = addr

	f := function.New()
	if err := f.Start(context.Background(), env(t, dbURL.String())); err != nil {
		t.Fatalf("Start with the database down: %v", err)
	}
	srv := httptest.NewServer(fhttp.New(f).Handler)
	defer srv.Close()
	defer f.Stop(context.Background())

	if code, _ := eventfunctest.Get(t, srv.URL+"/health/liveness"); code != http.StatusOK {
		t.Fatalf("liveness while waiting: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := eventfunctest.Get(t, srv.URL+"/health/readiness")
		if code == http.StatusOK {
			t.Fatal("ready with the database down")
		}
		if strings.Contains(body, "connect") && strings.Contains(body, "nova-api") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness %d %q gives no reason", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := eventfunctest.Get(t, srv.URL+"/v1/.well-known/jwks.json"); code != http.StatusServiceUnavailable ||
		!strings.Contains(body, `"unavailable"`) {
		t.Fatalf("request while not ready: %d %s, want a JSON 503", code, body)
	}

	up() // PostgreSQL comes up
	eventfunctest.AwaitReady(t, srv.URL, 60*time.Second)
	if code, body := eventfunctest.Get(t, srv.URL+"/v1/.well-known/jwks.json"); code != http.StatusOK {
		t.Fatalf("JWKS once ready: %d %s", code, body)
	}
}
