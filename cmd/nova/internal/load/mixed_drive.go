package load

import (
	"context"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"time"
)

type sample struct {
	op   string
	d    time.Duration
	code int
	err  error
}

type phase struct {
	ops       map[string]*opAcc
	scheduled int
	skipped   int
	elapsed   time.Duration
}

type opAcc struct {
	lat    []time.Duration
	errors map[string]int
	first  string
}

func (p *phase) results(names []string) []OpResult {
	var out []OpResult
	for _, name := range names {
		a := p.ops[name]
		if a == nil {
			a = &opAcc{}
		}
		out = append(out, OpResult{Name: name, Count: len(a.lat), Errors: a.errors,
			Latency: Summarize(a.lat), Elapsed: p.elapsed, FirstError: a.first})
	}
	return out
}

// drive issues operations chosen by pick at the configured rate for d with
// at most Concurrency in flight.
func (m *Mixed) drive(ctx context.Context, d time.Duration, pick func(r *rand.Rand) string, tick func(done int)) *phase {
	type job struct {
		op  string
		seq int
	}
	jobs := make(chan job, m.cfg.Concurrency)
	samples := make(chan sample, 4*m.cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range m.cfg.Concurrency {
		r := rand.New(rand.NewPCG(m.cfg.Seed, uint64(w)+1))
		wg.Go(func() {
			for j := range jobs {
				t0 := time.Now()
				code, err := m.do(ctx, j.op, j.seq, r)
				samples <- sample{op: j.op, d: time.Since(t0), code: code, err: err}
			}
		})
	}
	p := &phase{ops: map[string]*opAcc{}}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		n := 0
		for s := range samples {
			a := p.ops[s.op]
			if a == nil {
				a = &opAcc{errors: map[string]int{}}
				p.ops[s.op] = a
			}
			a.lat = append(a.lat, s.d)
			if s.err != nil {
				key := "transport"
				if s.code != 0 {
					key = strconv.Itoa(s.code)
				}
				a.errors[key]++
				if a.first == "" {
					a.first = s.err.Error()
				}
			}
			n++
			if tick != nil {
				tick(n)
			}
		}
	}()

	r := rand.New(rand.NewPCG(m.cfg.Seed, 0))
	every := time.Duration(float64(time.Second) / m.cfg.Rate)
	start := time.Now()
	end := start.Add(d)
	seq := 0
	for ; ; seq++ {
		due := start.Add(time.Duration(seq) * every)
		if !due.Before(end) || ctx.Err() != nil {
			break
		}
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		select {
		case jobs <- job{op: pick(r), seq: seq}:
		default:
			p.skipped++
		}
	}
	p.scheduled = seq
	close(jobs)
	wg.Wait()
	p.elapsed = time.Since(start)
	close(samples)
	<-collected
	return p
}

// picker chooses operations by weight.
func (m *Mixed) picker() func(r *rand.Rand) string {
	var ops []string
	var cum []int
	total := 0
	for _, op := range Ops() {
		if w := m.cfg.Mix[op]; w > 0 {
			total += w
			ops = append(ops, op)
			cum = append(cum, total)
		}
	}
	return func(r *rand.Rand) string {
		x := r.IntN(total)
		return ops[sort.SearchInts(cum, x+1)]
	}
}
