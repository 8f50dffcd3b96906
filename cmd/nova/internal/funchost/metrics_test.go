package funchost_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
)

// statusFunc is an HTTP function answering with the status in its path.
type statusFunc struct{}

func (statusFunc) Handle(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/bad":
		w.WriteHeader(http.StatusBadRequest)
	case "/boom":
		w.WriteHeader(http.StatusInternalServerError)
	default:
		w.Write([]byte("ok"))
	}
}

func TestMetricsCountRequestsByOutcome(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := funchost.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fn, err := funchost.Serve(ctx, funchost.Options{Name: "probe", Instance: statusFunc{}, Invoke: funchost.InvokeHTTP,
		Addr: "127.0.0.1:0", Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Stop(ctx)
	for _, p := range []string{"/ok", "/ok", "/bad", "/boom", "/health/readiness"} {
		resp, err := http.Get(fn.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := `
# HELP nova_function_requests_total Requests a function answered, by outcome (handled: 2xx/3xx, rejected: 4xx, failed: 5xx) and status code.
# TYPE nova_function_requests_total counter
nova_function_requests_total{code="200",function="probe",outcome="handled"} 2
nova_function_requests_total{code="400",function="probe",outcome="rejected"} 1
nova_function_requests_total{code="500",function="probe",outcome="failed"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nova_function_requests_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "nova_function_request_duration_seconds"); n != 3 {
		t.Fatalf("%d duration series, want 3 (one per outcome)", n)
	}
}
