package system

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/funchost"
)

// Restarting parts of a running system, as a node or pod failure would:
// fault tests use these to check that the rest gets over it.

// ErrNotEmbedded is returned by RestartKafka for an external cluster, which
// this process cannot restart.
var ErrNotEmbedded = errors.New("system: Kafka is an external cluster, not the embedded broker")

// RestartKafka stops the embedded broker (it writes its log, topics and
// group offsets to its data folder), leaves it down for downFor, and starts
// it again from the same folder on the same port, so every client reconnects
// to the address it knows.
func (s *System) RestartKafka(ctx context.Context, downFor time.Duration) error {
	s.mu.Lock()
	old := s.broker
	s.mu.Unlock()
	if !old.Embedded() {
		return ErrNotEmbedded
	}
	cfg := s.kafka
	cfg.DataDir = old.DataDir()
	// Come back on the ports the clients know (free ones were picked at
	// the first start).
	cfg.NodePorts = nil
	for _, a := range old.Addrs() {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("system: embedded Kafka address %s: %w", a, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("system: embedded Kafka port %s: %w", port, err)
		}
		cfg.NodePorts = append(cfg.NodePorts, p)
	}
	old.Close()
	select {
	case <-time.After(downFor):
	case <-ctx.Done():
	}
	// The port was just released; another listener could not have taken it
	// on loopback in any test this serves, but a slow close can still hold
	// it for a moment, so binding is retried until ctx ends.
	for {
		b, err := broker.Open(context.WithoutCancel(ctx), cfg)
		if err == nil {
			s.mu.Lock()
			s.broker = b
			s.mu.Unlock()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("system: restart embedded Kafka: %w", errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StopFunction stops every instance of a hosted function, as a Service
// whose pods all crashed: each server drains and its Stop hook runs; the
// address stops answering (with replicas, the balancer answers 503). The
// dispatcher keeps retrying deliveries to it.
func (s *System) StopFunction(ctx context.Context, name string) error {
	h, err := s.hosted(name)
	if err != nil {
		return err
	}
	var errs []error
	stopped := 0
	for i := range h.instances {
		err := s.StopReplica(ctx, name, i)
		if errors.Is(err, errAlreadyStopped) {
			continue
		}
		stopped++
		errs = append(errs, err)
	}
	if stopped == 0 {
		return fmt.Errorf("system: function %s: %w", name, errAlreadyStopped)
	}
	return errors.Join(errs...)
}

// StartFunction serves every stopped instance of a function again (see
// StartReplica).
func (s *System) StartFunction(ctx context.Context, name string) error {
	h, err := s.hosted(name)
	if err != nil {
		return err
	}
	started := 0
	for i := range h.instances {
		err := s.StartReplica(ctx, name, i)
		if errors.Is(err, errRunning) {
			continue
		}
		if err != nil {
			return err
		}
		started++
	}
	if started == 0 {
		return fmt.Errorf("system: function %s: %w", name, errRunning)
	}
	return nil
}

var (
	errAlreadyStopped = errors.New("already stopped")
	errRunning        = errors.New("running")
)

// StopReplica stops instance i of a function as a crashed pod: it leaves
// the balancer's rotation, its server drains and its Stop hook runs.
func (s *System) StopReplica(ctx context.Context, name string, i int) error {
	h, err := s.hosted(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if i < 0 || i >= len(h.instances) {
		s.mu.Unlock()
		return fmt.Errorf("system: function %s has no instance %d", name, i)
	}
	in := h.instances[i]
	if in.stopped {
		s.mu.Unlock()
		return fmt.Errorf("system: function %s instance %d: %w", name, i, errAlreadyStopped)
	}
	in.stopped = true
	fn := in.fn
	s.mu.Unlock()
	if h.lb != nil {
		h.lb.SetReady(i, false)
	}
	return fn.Stop(ctx)
}

// StartReplica serves instance i of a function again: a new instance (a
// new pod) with the same configuration, on the same address, so the
// dispatcher's sink URL and the balancer's target stay valid.
func (s *System) StartReplica(ctx context.Context, name string, i int) error {
	h, err := s.hosted(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if i < 0 || i >= len(h.instances) {
		s.mu.Unlock()
		return fmt.Errorf("system: function %s has no instance %d", name, i)
	}
	in := h.instances[i]
	if !in.stopped {
		s.mu.Unlock()
		return fmt.Errorf("system: function %s instance %d: %w", name, i, errRunning)
	}
	opts := h.opts
	opts.Addr = in.fn.Addr()
	s.mu.Unlock()

	var fn *funchost.Function
	for {
		// The old listener is closed, but the port can linger briefly. A
		// failed attempt has stopped its instance; each try gets a new one.
		opts.Instance = h.newInstance()
		if fn, err = funchost.Serve(ctx, opts); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("system: start function %s again: %w", name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.mu.Lock()
	in.fn, in.stopped = fn, false
	s.mu.Unlock()
	if h.lb != nil {
		h.lb.SetReady(i, true)
	}
	s.watch(fn)
	return nil
}

func (s *System) hosted(name string) (*hosted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.functions {
		if h != nil && h.name == name {
			return h, nil
		}
	}
	return nil, fmt.Errorf("system: no function named %s", name)
}

// watch forwards a function's failures after start-up to Errors.
func (s *System) watch(fn *funchost.Function) {
	go func() {
		for err := range fn.Errors() {
			s.fail(err)
		}
	}()
}

// MoveKafkaLeaders elects new partition leaders and moves every group
// coordinator on the embedded cluster, as a rolling restart of a
// production cluster does (see broker.Faults.MoveLeaders). With one node
// only the leader epochs change.
func (s *System) MoveKafkaLeaders() error {
	s.mu.Lock()
	b := s.broker
	s.mu.Unlock()
	if !b.Embedded() {
		return ErrNotEmbedded
	}
	b.Faults().MoveLeaders()
	return nil
}
