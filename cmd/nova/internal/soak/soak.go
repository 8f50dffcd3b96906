// Package soak watches a long run of Nova for leaks: it samples the
// process's memory, goroutines and open files and the PostgreSQL
// connections to its database at an interval, says whether each series
// stayed flat after warm-up, and draws the series as a PNG for a report.
// The fault suite's long mode (NOVA_FAULT_LONG) runs it.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Sample is one reading of the process and its database.
type Sample struct {
	At         time.Duration // since the sampler started
	RSS        int64         // resident memory, bytes (/proc/self/statm)
	Heap       int64         // Go heap in use, bytes
	Goroutines int
	FDs        int // open file descriptors (/proc/self/fd)
	PGConns    int // server connections to the database
}

// Config says what to sample and how often.
type Config struct {
	// Interval between samples. Default one minute.
	Interval time.Duration
	// Pool reads pg_stat_activity; Database is the database whose
	// connections are counted (every client's, the system's pools).
	Pool     *pgxpool.Pool
	Database string
}

// Validate reports a configuration the sampler cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("soak: interval %v is negative", c.Interval))
	}
	if c.Pool == nil || c.Database == "" {
		errs = append(errs, errors.New("soak: a pool and a database name are needed to count connections"))
	}
	return errors.Join(errs...)
}

// Sampler takes a Sample every Interval while Run runs.
type Sampler struct {
	cfg   Config
	start time.Time

	mu      sync.Mutex
	samples []Sample
	errs    []error
}

// New returns a sampler; Run starts it.
func New(cfg Config) (*Sampler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	return &Sampler{cfg: cfg}, nil
}

// Run samples at once and then every Interval until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	s.start = time.Now()
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		smp, err := s.Take(ctx)
		s.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				s.errs = append(s.errs, err)
			}
		} else {
			s.samples = append(s.samples, smp)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Take reads one sample now.
func (s *Sampler) Take(ctx context.Context) (Sample, error) {
	smp := Sample{At: time.Since(s.start), Goroutines: runtime.NumGoroutine()}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	smp.Heap = int64(ms.HeapInuse) //nolint:gosec // a heap's size is far below 2^63
	var errs []error
	rss, err := residentBytes()
	errs = append(errs, err)
	smp.RSS = rss
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		errs = append(errs, fmt.Errorf("soak: open files: %w", err))
	}
	smp.FDs = len(fds)
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.cfg.Pool.QueryRow(qctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`,
		s.cfg.Database).Scan(&smp.PGConns); err != nil {
		errs = append(errs, fmt.Errorf("soak: PostgreSQL connections: %w", err))
	}
	return smp, errors.Join(errs...)
}

// residentBytes reads the process's resident set from /proc/self/statm
// (its second field, in pages).
func residentBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("soak: resident memory: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("soak: /proc/self/statm reads %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("soak: /proc/self/statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}

// Samples returns what was sampled so far, and the failures to sample.
func (s *Sampler) Samples() ([]Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...), errors.Join(s.errs...)
}

// WriteCSV writes samples with a header line.
func WriteCSV(w io.Writer, samples []Sample) error {
	if _, err := fmt.Fprintln(w, "seconds,rss_bytes,heap_bytes,goroutines,fds,pg_connections"); err != nil {
		return err
	}
	for _, s := range samples {
		if _, err := fmt.Fprintf(w, "%.0f,%d,%d,%d,%d,%d\n", s.At.Seconds(), s.RSS, s.Heap, s.Goroutines, s.FDs, s.PGConns); err != nil {
			return err
		}
	}
	return nil
}
