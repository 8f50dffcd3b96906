package load_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/load"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/testrig"
)

// startNova runs the whole system in this process on free ports, stopped
// when the test ends.
func startNova(t *testing.T) *system.System {
	t.Helper()
	root, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	mailDir := t.TempDir()
	sys, err := system.Start(ctx, system.Config{
		Root:        root,
		MailDir:     mailDir,
		Eventing:    filepath.Join(root, "eventing"),
		MetricsAddr: "127.0.0.1:0",
		Kafka:       broker.Config{DataDir: t.TempDir()},
		DatabaseURL: testrig.PostgresURL(t),
		RedisURL:    testrig.RedisAdminURL(t),
		// The ranking function keeps its schedule under one key prefix;
		// a prefix of this test's own keeps other systems on the shared
		// Redis from taking its posts (and it theirs).
		// A load test plays many users from one address: wider budgets,
		// of its own, as the README says to give the Nova it measures.
		Environ: map[string]string{"RANKING_KEY_PREFIX": "ranking:" + testrig.ID() + ":",
			"RATE_LIMIT_NAMESPACE": "load-" + testrig.ID(), "RATE_LIMIT_REGISTER": "1000/1m", "RATE_LIMIT_LOGIN": "1000/1m",
			"RATE_LIMIT_WRITE": "100000/1m", "RATE_LIMIT_READ": "100000/1m"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("start Nova: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sys.Stop(ctx); err != nil {
			t.Errorf("stop Nova: %v", err)
		}
	})
	return sys
}

// TestMixedWorkload runs a short mixed workload on a running Nova: every
// operation happens, none fails, the backlogs drain, and the posts it wrote
// reach their authors' followers' feeds.
func TestMixedWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole system under load: make test runs it, make test-short does not")
	}
	sys := startNova(t)
	api, ok := sys.FunctionURL("nova-api")
	if !ok {
		t.Fatal("nova-api is not running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lag := load.NewKafkaLag(sys.Brokers(), sys.KafkaSecurity())
	outbox, err := load.NewOutboxBacklog(ctx, sys.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer outbox.Close()

	m, err := load.NewMixed(load.MixedConfig{
		API: api, Duration: 3 * time.Second, Users: 3, Follows: 2, Rate: 40, Concurrency: 4,
		Baseline: time.Second, Backlogs: []load.Backlog{lag, outbox}, Seed: 1, DrainTimeout: time.Minute, Progress: testWriter{t},
		// Where the system's local mail relay keeps the sign-up mail.
		MailDir: sys.MailDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	took, err := m.Setup(ctx)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	res, err := m.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	res.SetupTook = took
	res.FeedsChecked, res.FeedsMissing, err = m.CheckFeeds(ctx, 10, 30*time.Second)
	if err != nil {
		t.Fatalf("check feeds: %v", err)
	}
	var report strings.Builder
	load.WriteMixed(&report, res)
	t.Log(report.String())

	for _, o := range res.Ops {
		if o.Count == 0 || o.OK() != o.Count || o.Latency.Count != o.Count {
			t.Errorf("%s: %d requests, %d ok, %d latencies, errors %v (%s)", o.Name, o.Count, o.OK(), o.Latency.Count, o.Errors, o.FirstError)
		}
	}
	if res.Baseline == nil || res.Baseline.Count == 0 || res.Baseline.OK() != res.Baseline.Count {
		t.Errorf("baseline: %+v", res.Baseline)
	}
	if n := res.Errors(); n != 0 {
		t.Errorf("%d requests failed", n)
	}
	if !res.Drained {
		t.Errorf("backlogs did not drain: %+v", res.Backlogs)
	}
	for _, b := range res.Backlogs {
		if b.Samples == 0 || b.ReadErrors == b.Samples {
			t.Errorf("%s: %d samples, %d failed (%s)", b.Name, b.Samples, b.ReadErrors, b.LastErr)
		}
	}
	if res.FeedsChecked == 0 || res.FeedsMissing != 0 {
		t.Errorf("feeds: %d pairs checked, %d missing", res.FeedsChecked, res.FeedsMissing)
	}
	// The dispatcher's gauge is refreshed every few seconds, too coarse to
	// time a drain by in a short test; it must read all the same.
	if _, err := (&load.MetricsLag{URL: sys.MetricsURL()}).Pending(ctx); err != nil {
		t.Errorf("lag from the metrics: %v", err)
	}
	for _, want := range []string{"post ", "like ", "message ", "feed ", "baseline ", "consumer lag: peak", "drained "} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// A sign-up whose mail never reaches the mail folder fails the setup in
// bounded time, naming the folder and where the mail goes.
func TestMixedSetupWithoutMail(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/users" {
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"verification_sent"}`)
	}))
	defer api.Close()
	dir := t.TempDir()
	m, err := load.NewMixed(load.MixedConfig{API: api.URL, Users: 2, Concurrency: 1, MailDir: dir, MailTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = m.Setup(ctx)
	if err == nil {
		t.Fatal("setup passed without a verification mail")
	}
	for _, want := range []string{"no verification mail in " + dir + string(filepath.Separator) + "load_", "@load.example.com after 300ms", "without SMTP_ADDR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// testWriter sends the workload's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
