package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/soak"
)

// soakWatch is the fault suite's long mode watching for leaks: the test
// process (which hosts the whole system) and its database are sampled every
// NOVA_FAULT_SAMPLE (default 1m); at the end each series must be flat after
// NOVA_FAULT_WARMUP (default 5m), and the samples are written beside the
// report as fault-soak.csv and plotted as fault-soak.png.
type soakWatch struct {
	s      *soak.Sampler
	cancel context.CancelFunc
	done   chan struct{}
	warmUp time.Duration

	samples []soak.Sample
	flat    error // nil: flat; set when not, or when too short to judge
	judged  bool
	files   []string
}

func startSoak(t *testing.T, r *faultRig) *soakWatch {
	t.Helper()
	interval, warmUp := envDuration(t, "NOVA_FAULT_SAMPLE", time.Minute), envDuration(t, "NOVA_FAULT_WARMUP", 5*time.Minute)
	var db string
	if err := r.db.QueryRow(context.Background(), `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	s, err := soak.New(soak.Config{Interval: interval, Pool: r.db, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &soakWatch{s: s, cancel: cancel, done: make(chan struct{}), warmUp: warmUp}
	go func() { defer close(w.done); s.Run(ctx) }()
	t.Cleanup(w.stop)
	return w
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: not a positive duration", name, v)
	}
	return d
}

func (w *soakWatch) stop() {
	w.cancel()
	<-w.done
}

// finish stops sampling, judges the series and writes the files; a series
// that grew fails the test.
func (w *soakWatch) finish(t *testing.T) {
	t.Helper()
	w.stop()
	samples, err := w.s.Samples()
	if err != nil {
		t.Errorf("soak: %v", err)
	}
	w.samples = samples
	w.flat = soak.Flat(samples, w.warmUp)
	w.judged = w.flat == nil || !strings.Contains(w.flat.Error(), "want at least 4 to judge")
	if w.judged && w.flat != nil {
		t.Errorf("not flat after the %v warm-up:\n%v", w.warmUp, w.flat)
	}
	dir := t.TempDir()
	if p := os.Getenv("NOVA_FAULT_REPORT"); p != "" {
		dir = filepath.Dir(p)
	}
	for _, f := range []struct {
		name  string
		write func(*os.File) error
	}{
		{"fault-soak.csv", func(f *os.File) error { return soak.WriteCSV(f, samples) }},
		{"fault-soak.png", func(f *os.File) error { return soak.Plot(f, samples, w.warmUp) }},
	} {
		path := filepath.Join(dir, f.name)
		out, err := os.Create(path)
		if err == nil {
			err = f.write(out)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Errorf("soak: %s: %v", path, err)
			continue
		}
		w.files = append(w.files, path)
	}
}

// String is the report's section: every sample, the verdict, the files.
func (w *soakWatch) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nresources, sampled every %s (the test process hosts the whole system; connections are the database's):\n",
		sampleInterval(w.samples))
	fmt.Fprintf(&b, "  %7s %9s %9s %11s %6s %9s\n", "minute", "RSS MiB", "heap MiB", "goroutines", "files", "PG conns")
	for _, s := range w.samples {
		fmt.Fprintf(&b, "  %7.1f %9.0f %9.0f %11d %6d %9d\n", s.At.Minutes(), float64(s.RSS)/(1<<20), float64(s.Heap)/(1<<20),
			s.Goroutines, s.FDs, s.PGConns)
	}
	switch {
	case !w.judged:
		fmt.Fprintf(&b, "  flat after the %v warm-up: not judged (%v)\n", w.warmUp, w.flat)
	case w.flat != nil:
		fmt.Fprintf(&b, "  flat after the %v warm-up: NO\n  %s\n", w.warmUp, strings.ReplaceAll(w.flat.Error(), "\n", "\n  "))
	default:
		fmt.Fprintf(&b, "  flat after the %v warm-up: yes\n", w.warmUp)
	}
	for _, f := range w.files {
		fmt.Fprintf(&b, "  written: %s\n", f)
	}
	return b.String()
}

func sampleInterval(ss []soak.Sample) time.Duration {
	if len(ss) < 2 {
		return 0
	}
	return (ss[len(ss)-1].At / time.Duration(len(ss)-1)).Round(time.Second)
}
