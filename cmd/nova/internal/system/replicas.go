package system

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/replicas"
)

// Replicas are instance counts by function name: --replicas
// "feed-fanout=3,nova-api=2".
type Replicas map[string]int

// ParseReplicas reads name=N pairs separated by commas.
func ParseReplicas(s string) (Replicas, error) {
	counts, err := parseCounts(s, 1, maxReplicas, "replicas", "feed-fanout=3")
	return Replicas(counts), err
}

// String is the form ParseReplicas reads, names sorted.
func (r Replicas) String() string {
	items := make([]string, 0, len(r))
	for n, c := range r {
		items = append(items, fmt.Sprintf("%s=%d", n, c))
	}
	sort.Strings(items)
	return strings.Join(items, ",")
}

// Set makes Replicas a flag value; each use adds to the counts.
func (r *Replicas) Set(s string) error {
	more, err := ParseReplicas(s)
	if err != nil {
		return err
	}
	if *r == nil {
		*r = Replicas{}
	}
	for k, v := range more {
		(*r)[k] = v
	}
	return nil
}

// serveHosted serves n instances of a function made by newInstance. One
// listens on opts.Addr itself; more listen on free ports behind a
// balancer on opts.Addr, as a Knative Service's pods behind its address.
func serveHosted(ctx context.Context, opts funchost.Options, newInstance func() any, n int) (*hosted, error) {
	h := &hosted{name: opts.Name, opts: opts, newInstance: newInstance}
	if n == 1 {
		opts.Instance = newInstance()
		fn, err := funchost.Serve(ctx, opts)
		if err != nil {
			return nil, err
		}
		h.instances = []*replica{{fn: fn}}
		return h, nil
	}
	lb, err := replicas.Listen(opts.Name, opts.Addr)
	if err != nil {
		return nil, err
	}
	h.lb = lb
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("system: %s: address %s: %w", opts.Name, opts.Addr, err)
	}
	h.opts.Addr = net.JoinHostPort(host, "0")
	for range n {
		o := h.opts
		o.Instance = newInstance()
		fn, err := funchost.Serve(ctx, o)
		if err == nil {
			_, err = lb.Add(fn.URL())
		}
		if err != nil {
			return nil, errors.Join(err, h.stop(context.WithoutCancel(ctx)))
		}
		h.instances = append(h.instances, &replica{fn: fn})
	}
	return h, nil
}

// stop stops every running instance and the balancer.
func (h *hosted) stop(ctx context.Context) error {
	var errs []error
	for _, in := range h.instances {
		if !in.stopped {
			errs = append(errs, in.fn.Stop(ctx))
		}
	}
	if h.lb != nil {
		errs = append(errs, h.lb.Close(ctx))
	}
	return errors.Join(errs...)
}

// Replicas is how many instances of the function run, and how many
// requests the balancer gave each (nil for a single instance).
func (s *System) Replicas(name string) (n int, served []int64, err error) {
	h, err := s.hosted(name)
	if err != nil {
		return 0, nil, err
	}
	if h.lb != nil {
		served = h.lb.Served()
	}
	return len(h.instances), served, nil
}
