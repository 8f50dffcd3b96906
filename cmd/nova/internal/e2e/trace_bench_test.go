package e2e_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/telemetry"
	"github.com/nova-social/nova/shared/testrig"
)

// BenchmarkTracingCost is BenchmarkPostToFeeds (POST /v1/posts returning →
// the post in all 1,000 followers' feeds) on systems started one after the
// other in the same run: tracing off, tracing every request and event to a
// real Jaeger, and sampling 10% of new traces, each mode twice (b.N/2
// posts a system). Each system has its own database and broker; the
// followers are seeded the same way.
//
//	go test -run '^$' -bench TracingCost -benchtime 200x ./internal/e2e
func BenchmarkTracingCost(b *testing.B) {
	const followers = 1000
	j := startJaeger(b)
	modes := []struct {
		name string
		env  map[string]string
	}{
		{"off", nil},
		{"on-100%", map[string]string{telemetry.EnvTracesEndpoint: j.OTLPTracesURL(), telemetry.EnvSampler: "parentbased_always_on"}},
		{"on-10%", map[string]string{telemetry.EnvTracesEndpoint: j.OTLPTracesURL(),
			telemetry.EnvSampler: "parentbased_traceidratio", telemetry.EnvSamplerArg: "0.1"}},
	}
	// Two rounds, the second in the opposite order, so that whatever
	// drifts over the run (the shared Redis filling, the machine warming)
	// weighs on every mode alike.
	rdb := testrig.Redis(b)
	lat := map[string][]time.Duration{}
	order := slices.Clone(modes)
	for i := len(modes) - 1; i >= 0; i-- {
		order = append(order, modes[i])
	}
	per := max(b.N/2, 1)
	for _, m := range order {
		r := startWith(b, system.Config{Environ: m.env})
		author := r.register("author")
		fans := seedFollowers(b, r, author.ID, followers)
		for range per {
			p := r.must(http.StatusCreated, "POST", "/v1/posts", author.Token, map[string]any{"content": "bench", "visibility": "PUBLIC"})
			returned := time.Now()
			waitInFeeds(b, rdb, fans, p["id"].(string))
			lat[m.name] = append(lat[m.name], time.Since(returned))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := r.sys.Stop(ctx); err != nil {
			b.Errorf("stop Nova (%s): %v", m.name, err)
		}
		cancel()
	}
	for _, m := range modes {
		testrig.ReportLatency(b, m.name, lat[m.name])
	}
}
