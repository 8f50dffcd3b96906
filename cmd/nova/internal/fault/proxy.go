package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy is a TCP forwarder in front of one real server (PostgreSQL, Redis).
// The system under test connects through it, so an outage can be played
// without touching the real server, which other tests share: Down drops every
// open connection and resets each new one until Up. It is not a restart of the
// server: the server's own state (data, sessions of other clients) survives,
// but from the client's side a restart looks the same — every connection
// breaks and reconnecting fails until the server is back.
type Proxy struct {
	target string
	ln     net.Listener

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{} // both sides of every open pair

	accepted atomic.Int64
	dropped  atomic.Int64
	refused  atomic.Int64

	wg     sync.WaitGroup
	closed chan struct{}
}

// Stats counts what a proxy has done.
type Stats struct {
	Accepted int64 // connections forwarded to the server
	Dropped  int64 // open connections cut by Down
	Refused  int64 // connections reset while down
}

// Listen starts a proxy on a free loopback port forwarding to target
// (host:port).
func Listen(target string) (*Proxy, error) {
	if target == "" {
		return nil, errors.New("fault: proxy needs a target address")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault: proxy for %s: %w", target, err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}, closed: make(chan struct{})}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the address clients connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the real server's address.
func (p *Proxy) Target() string { return p.target }

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	return Stats{Accepted: p.accepted.Load(), Dropped: p.dropped.Load(), Refused: p.refused.Load()}
}

// Down cuts every open connection and resets new ones until Up: the server
// as its clients see it while it is stopped or restarting.
func (p *Proxy) Down() {
	p.mu.Lock()
	p.down = true
	open := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		open = append(open, c)
	}
	p.mu.Unlock()
	for _, c := range open {
		reset(c)
	}
	// Each pair is two entries; count connections, not sockets.
	p.dropped.Add(int64(len(open) / 2))
}

// Open is the number of connections being forwarded now: those Down would
// cut.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Up accepts and forwards connections again.
func (p *Proxy) Up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// IsDown reports whether the proxy plays the server down.
func (p *Proxy) IsDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// Close stops listening and cuts every connection.
func (p *Proxy) Close() error {
	select {
	case <-p.closed:
		return nil
	default:
	}
	close(p.closed)
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if p.IsDown() {
			p.refused.Add(1)
			reset(c)
			continue
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

func (p *Proxy) forward(client net.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-p.closed:
		case <-ctx.Done():
		}
		cancel()
	}()
	var d net.Dialer
	server, err := d.DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		reset(client)
		return
	}
	// Registered under the lock that Down takes, so a pair is either cut by
	// Down or never forwarded while down.
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		p.refused.Add(1)
		reset(client)
		_ = server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	p.accepted.Add(1)

	var pair sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// One direction ending ends both: a half-open pair would hide the
		// outage from the client.
		_ = dst.Close()
		_ = src.Close()
	}
	pair.Go(func() { pipe(server, client) })
	pair.Go(func() { pipe(client, server) })
	pair.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// reset closes c with a TCP reset rather than an orderly FIN, as a crashed
// or restarting server's host would.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
