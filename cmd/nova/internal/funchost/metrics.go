package funchost

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what every hosted function handles: requests by status
// and their durations, labelled by function. Knative's queue-proxy exports
// the same per revision in a cluster; this is its local counterpart.
type Metrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the function metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nova_function_requests_total",
			Help: "Requests a function answered, by outcome (handled: 2xx/3xx, rejected: 4xx, failed: 5xx) and status code.",
		}, []string{"function", "outcome", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nova_function_request_duration_seconds",
			Help:    "Time a function took to answer a request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"function", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.handled, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// wrap counts every request of function name except health probes.
func (m *Metrics) wrap(name string, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/health/") {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		outcome := "handled"
		switch {
		case sw.code >= 500:
			outcome = "failed"
		case sw.code >= 400:
			outcome = "rejected"
		}
		m.handled.WithLabelValues(name, outcome, strconv.Itoa(sw.code)).Inc()
		m.duration.WithLabelValues(name, outcome).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer
// (flushing, hijacking for websockets).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
