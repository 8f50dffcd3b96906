// Package replicas puts several instances of a function behind one
// address, as a Kubernetes Service puts a Knative revision's ready pods:
// each request goes to the next ready instance in turn (round-robin), and
// an instance taken out of rotation gets none until it is put back. The
// dispatcher and nova-api's clients keep the one address they know.
package replicas

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Balancer serves one address in front of a function's instances.
type Balancer struct {
	name   string
	mu     sync.Mutex
	ends   []*endpoint
	next   int
	ln     net.Listener
	server *http.Server
	served chan struct{}
}

type endpoint struct {
	target *url.URL
	proxy  *httputil.ReverseProxy
	ready  bool
	count  int64
}

// ErrNoneReady is the answer's cause when every instance is out of
// rotation: 503, which the dispatcher retries, as Knative's activator
// answers while no pod is ready.
var ErrNoneReady = errors.New("replicas: no instance is ready")

// Listen opens the balancer on addr for the function name; it routes
// nothing until instances are added.
func Listen(name, addr string) (*Balancer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("replicas: %s: listen on %s: %w", name, addr, err)
	}
	b := &Balancer{name: name, ln: ln, served: make(chan struct{})}
	// No read or write timeout of its own: each instance's server bounds
	// its requests, and a websocket passed through lives for hours.
	b.server = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(b.served)
		_ = b.server.Serve(ln)
	}()
	return b, nil
}

// Add puts an instance listening at rawURL into rotation and returns its
// index.
func (b *Balancer) Add(rawURL string) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, fmt.Errorf("replicas: %s: instance URL %q: %w", b.name, rawURL, err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		// An instance that died mid-request: the caller sees what a
		// Service's client sees, a bad gateway, and retries.
		http.Error(w, fmt.Sprintf("%s: instance %s: %v", b.name, u.Host, err), http.StatusBadGateway)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ends = append(b.ends, &endpoint{target: u, proxy: p, ready: true})
	return len(b.ends) - 1, nil
}

// SetReady puts instance i into rotation or takes it out, as the
// endpoints controller does when a pod becomes ready or stops.
func (b *Balancer) SetReady(i int, ready bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ends[i].ready = ready
}

// Served is how many requests each instance has been given.
func (b *Balancer) Served() []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]int64, len(b.ends))
	for i, e := range b.ends {
		out[i] = e.count
	}
	return out
}

// pick is the next ready instance after the last one picked.
func (b *Balancer) pick() *endpoint {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range b.ends {
		e := b.ends[b.next%len(b.ends)]
		b.next++
		if e.ready {
			e.count++
			return e
		}
	}
	return nil
}

// ServeHTTP hands the request to the next ready instance.
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := b.pick()
	if e == nil {
		http.Error(w, fmt.Sprintf("%s: %v", b.name, ErrNoneReady), http.StatusServiceUnavailable)
		return
	}
	e.proxy.ServeHTTP(w, r)
}

// Addr is where the balancer listens.
func (b *Balancer) Addr() string { return b.ln.Addr().String() }

// URL is the function's address as its callers know it.
func (b *Balancer) URL() string { return "http://" + b.Addr() }

// Close stops the balancer, letting requests in flight finish until ctx
// ends.
func (b *Balancer) Close(ctx context.Context) error {
	err := b.server.Shutdown(ctx)
	<-b.served
	if err != nil {
		return fmt.Errorf("replicas: %s: %w", b.name, err)
	}
	return nil
}
