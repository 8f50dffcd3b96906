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

// StopFunction stops a hosted function as a crashed pod: its server drains
// and its Stop hook runs; its address stops answering. The dispatcher keeps
// retrying deliveries to it.
func (s *System) StopFunction(ctx context.Context, name string) error {
	h, err := s.hosted(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if h.stopped {
		s.mu.Unlock()
		return fmt.Errorf("system: function %s is already stopped", name)
	}
	h.stopped = true
	fn := h.fn
	s.mu.Unlock()
	return fn.Stop(ctx)
}

// StartFunction serves a function stopped by StopFunction again: a new
// instance (a new pod) with the same configuration, on the same address, so
// the dispatcher's sink URL stays valid.
func (s *System) StartFunction(ctx context.Context, name string) error {
	h, err := s.hosted(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if !h.stopped {
		s.mu.Unlock()
		return fmt.Errorf("system: function %s is running", name)
	}
	opts := h.opts
	opts.Addr = h.fn.Addr()
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
	h.fn, h.stopped = fn, false
	s.mu.Unlock()
	s.watch(fn)
	return nil
}

func (s *System) hosted(name string) (*hosted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.functions {
		if h != nil && h.fn.Name() == name {
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
