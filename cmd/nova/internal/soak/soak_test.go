package soak_test

import (
	"bytes"
	"context"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/soak"
	"github.com/nova-social/nova/shared/testrig"
)

// series builds samples a minute apart from f(minute).
func series(n int, f func(i int) soak.Sample) []soak.Sample {
	out := make([]soak.Sample, n)
	for i := range out {
		out[i] = f(i)
		out[i].At = time.Duration(i) * time.Minute
	}
	return out
}

func steady(i int) soak.Sample {
	// The heap and RSS breathe with the collector; nothing trends.
	wobble := int64(i%3) * 8 << 20
	return soak.Sample{RSS: 300<<20 + wobble, Heap: 120<<20 + wobble, Goroutines: 900 + i%7, FDs: 140 + i%2, PGConns: 24}
}

func TestFlat(t *testing.T) {
	for _, c := range []struct {
		name    string
		samples []soak.Sample
		warmUp  time.Duration
		wantErr []string // empty: flat
	}{
		{"steady series are flat", series(60, steady), 5 * time.Minute, nil},
		{"growth during warm-up does not count", series(60, func(i int) soak.Sample {
			s := steady(i)
			if i < 5 {
				s.Goroutines, s.RSS = 100*i, int64(i)*60<<20
			}
			return s
		}), 5 * time.Minute, nil},
		{"a goroutine leak", series(60, func(i int) soak.Sample {
			s := steady(i)
			s.Goroutines += 20 * i
			return s
		}), 5 * time.Minute, []string{"goroutines grew"}},
		{"a connection leak, however small the pool", series(60, func(i int) soak.Sample {
			s := steady(i)
			s.PGConns += i / 6
			return s
		}), 5 * time.Minute, []string{"PostgreSQL connections grew"}},
		{"memory and open files growing together", series(60, func(i int) soak.Sample {
			s := steady(i)
			s.RSS += int64(i) * 10 << 20
			s.FDs += 2 * i
			return s
		}), 5 * time.Minute, []string{"resident memory", "open files"}},
		{"too few samples to judge", series(6, steady), 5 * time.Minute, []string{"1 samples after the 5m0s warm-up"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := soak.Flat(c.samples, c.warmUp)
			if len(c.wantErr) == 0 {
				if err != nil {
					t.Fatalf("judged not flat: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("judged flat, want %q", c.wantErr)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v does not say %q", err, w)
				}
			}
		})
	}
}

// The sampler reads this process and counts the database's connections:
// three more held by a second pool show up in the next sample.
func TestSamplerReadsTheProcessAndTheDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := testrig.PostgresURL(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := soak.New(soak.Config{Interval: 20 * time.Millisecond, Pool: pool, Database: strings.TrimPrefix(u.Path, "/")})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	s.Run(rctx)
	samples, err := s.Samples()
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 3 {
		t.Fatalf("%d samples in 200ms at 20ms", len(samples))
	}
	first := samples[0]
	if first.RSS <= 0 || first.Heap <= 0 || first.Goroutines <= 0 || first.FDs <= 0 || first.PGConns < 1 {
		t.Fatalf("sample %+v has an empty reading", first)
	}

	mcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	mcfg.MaxConns = 3
	more, err := pgxpool.NewWithConfig(ctx, mcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(more.Close)
	held := make([]*pgxpool.Conn, 3)
	for i := range held {
		if held[i], err = more.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	after, err := s.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.PGConns < first.PGConns+3 {
		t.Errorf("%d connections with three more held, %d before", after.PGConns, first.PGConns)
	}
}

func TestPlot(t *testing.T) {
	var buf bytes.Buffer
	if err := soak.Plot(&buf, series(30, steady), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 900 || b.Dy() != 5*150 {
		t.Errorf("plot is %v, want 900×750 (five panels)", b)
	}
	// Every panel has its line drawn.
	for p := range 5 {
		blue := 0
		for y := p * 150; y < (p+1)*150; y++ {
			for x := 0; x < 900; x++ {
				if r, g, b, _ := img.At(x, y).RGBA(); b>>8 > 0x90 && r>>8 < 0x40 && g>>8 < 0x80 {
					blue++
				}
			}
		}
		if blue < 100 {
			t.Errorf("panel %d has %d pixels of the line", p, blue)
		}
	}
	if err := soak.Plot(&buf, series(1, steady), 0); err == nil {
		t.Error("plotted a single sample")
	}
}
