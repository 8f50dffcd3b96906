package load

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// backlogWatch samples the backlogs until stopped.
type backlogWatch struct {
	mu      sync.Mutex
	res     []BacklogResult
	current []int64
	errs    []bool
}

func (m *Mixed) watch(ctx context.Context, start time.Time) (*backlogWatch, func()) {
	w := &backlogWatch{res: make([]BacklogResult, len(m.cfg.Backlogs)),
		current: make([]int64, len(m.cfg.Backlogs)), errs: make([]bool, len(m.cfg.Backlogs))}
	for i, b := range m.cfg.Backlogs {
		w.res[i].Name = b.Name()
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(m.cfg.PollInterval)
		defer t.Stop()
		for {
			for i, b := range m.cfg.Backlogs {
				n, err := b.Pending(ctx)
				if ctx.Err() != nil {
					return
				}
				w.mu.Lock()
				r := &w.res[i]
				r.Samples++
				w.errs[i] = err != nil
				if err != nil {
					r.ReadErrors++
					r.LastErr = err.Error()
				} else {
					w.current[i] = n
					if n > r.Peak {
						r.Peak, r.PeakAfter = n, time.Since(start)
					}
				}
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w, func() { cancel(); <-done }
}

func (w *backlogWatch) total() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, c := range w.current {
		n += c
	}
	return n
}

// waitDrained polls the backlogs until all read zero twice in a row (a
// chain of reactions can refill a topic just emptied) and returns the time
// from since to the first of those two readings.
func (m *Mixed) waitDrained(ctx context.Context, since time.Time) (time.Duration, error) {
	if len(m.cfg.Backlogs) == 0 {
		return 0, nil
	}
	deadline := time.Now().Add(m.cfg.DrainTimeout)
	var zeroAt time.Time
	var last []string
	for {
		now := time.Now()
		all := true
		last = last[:0]
		for _, b := range m.cfg.Backlogs {
			n, err := b.Pending(ctx)
			switch {
			case err != nil:
				all = false
				last = append(last, fmt.Sprintf("%s: %v", b.Name(), err))
			case n != 0:
				all = false
				msg := fmt.Sprintf("%s %d", b.Name(), n)
				if d, ok := b.(interface{ Detail() string }); ok && d.Detail() != "" {
					msg += " (" + d.Detail() + ")"
				}
				last = append(last, msg)
			}
		}
		switch {
		case !all:
			zeroAt = time.Time{}
		case zeroAt.IsZero():
			zeroAt = now
		default:
			return zeroAt.Sub(since), nil
		}
		if now.After(deadline) {
			return 0, fmt.Errorf("not drained within %s: %s", m.cfg.DrainTimeout, strings.Join(last, ", "))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(m.cfg.PollInterval):
		}
	}
}
