package function_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	fhttp "knative.dev/func-go/http"

	function "github.com/nova-social/nova"
	"github.com/nova-social/nova/shared/api/openapi/openapitest"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/testrig"
)

// The health probes the OpenAPI document lists are the function runtime's
// own routes (not nova-api's, which shared/api's tests hold to the
// document), and they answer as documented: not ready with the reason
// while the database is away, then ready; alive throughout.
func TestHealthProbesAsDocumented(t *testing.T) {
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	var probes []*openapitest.Operation
	for _, op := range spec.Operations() {
		if strings.HasPrefix(op.Path, openapitest.RuntimePrefix) {
			probes = append(probes, op)
		}
	}
	if len(probes) != 2 {
		t.Fatalf("the document lists %d health probes, want liveness and readiness", len(probes))
	}

	dbURL, err := url.Parse(testrig.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	addr, up := testrig.LateService(t, dbURL.Host)
	dbURL.Host = addr
	f := function.New()
	if err := f.Start(context.Background(), env(t, dbURL.String())); err != nil {
		t.Fatal(err)
	}
	defer f.Stop(context.Background())
	svc := fhttp.New(f)
	mux, ok := svc.Handler.(*http.ServeMux)
	if !ok {
		t.Fatalf("func-go's handler is a %T, not a ServeMux", svc.Handler)
	}
	srv := httptest.NewServer(svc.Handler)
	defer srv.Close()

	get := func(op *openapitest.Operation) int {
		t.Helper()
		if _, pattern := mux.Handler(httptest.NewRequest(op.Method, op.Path, nil)); pattern == "/" {
			t.Fatalf("%s is not a route of the runtime: nova-api's handler would answer it", op.Path)
		}
		resp, err := http.Get(srv.URL + op.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if err := op.Check(resp.StatusCode, resp.Header, body); err != nil {
			t.Error(err)
		}
		return resp.StatusCode
	}
	readiness, liveness := spec.Lookup("GET", "/health/readiness"), spec.Lookup("GET", "/health/liveness")
	if readiness == nil || liveness == nil {
		t.Fatal("the document lacks /health/readiness or /health/liveness")
	}
	if code := get(readiness); code == http.StatusOK {
		t.Fatal("ready with the database away")
	}
	if code := get(liveness); code != http.StatusOK {
		t.Errorf("liveness with the database away: %d", code)
	}
	up()
	eventfunctest.AwaitReady(t, srv.URL, 60*time.Second)
	for _, op := range probes {
		if code := get(op); code != http.StatusOK {
			t.Errorf("%s once ready: %d", op.Path, code)
		}
	}
}
