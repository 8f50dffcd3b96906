package funchost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	fhttp "knative.dev/func-go/http"
)

// Options say how to host one function instance.
type Options struct {
	// Name is the function's name (func.yaml name), used in messages.
	Name string
	// Instance is what the function's New() returned.
	Instance any
	// Invoke is the func.yaml invoke; only InvokeHTTP is hosted (see
	// Validate).
	Invoke string
	// Addr is the listen address; "127.0.0.1:0" picks a free port.
	Addr string
	// Config is handed to the instance's Start hook (see Resolver.Config).
	Config map[string]string
	// ReadyTimeout bounds the wait for /health/readiness. Default 60s.
	ReadyTimeout time.Duration
	// Logger. Default: discard.
	Logger *slog.Logger
	// Metrics, when set, counts the function's requests.
	Metrics *Metrics
	// Middleware, when set, wraps the function's whole handler (health
	// endpoints included), inside the metrics: the local runtime's hook for
	// fault injection and request logging.
	Middleware func(http.Handler) http.Handler
}

// Defaults returns o with every unset field at its default.
func (o Options) Defaults() Options {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Config == nil {
		o.Config = map[string]string{}
	}
	return o
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	switch {
	case o.Name == "":
		return errors.New("funchost: a function needs a name")
	case o.Instance == nil:
		return fmt.Errorf("funchost: function %s: no instance", o.Name)
	case o.Addr == "":
		return fmt.Errorf("funchost: function %s: no listen address", o.Name)
	case o.Invoke == InvokeCloudEvent:
		// func-go's cloudevents runtime strands requests behind cancelled
		// ones (cloudevents/sdk-go issues 1224, 1332); Nova's event
		// functions take their events over invoke: http through
		// shared/event/eventfunc, and the host runs exactly what production runs.
		return fmt.Errorf("funchost: function %s: invoke %s is not hosted: take events with shared/event/eventfunc and set invoke: %s in func.yaml",
			o.Name, InvokeCloudEvent, InvokeHTTP)
	case o.Invoke != InvokeHTTP:
		return fmt.Errorf("funchost: function %s: invoke %q, want %s", o.Name, o.Invoke, InvokeHTTP)
	}
	if _, ok := o.Instance.(fhttp.Handler); !ok {
		return fmt.Errorf("funchost: function %s: %T has no Handle(http.ResponseWriter, *http.Request)", o.Name, o.Instance)
	}
	return nil
}

// Function is a hosted, running function instance.
type Function struct {
	name   string
	inst   any
	server *http.Server
	ln     net.Listener
	errs   chan error
	cancel context.CancelFunc // the Start hook's context
	log    *slog.Logger

	stopOnce sync.Once
	stopErr  error
	served   chan struct{}
}

// Serve hosts the instance: func-go's http Service (the handler, health
// endpoints and server timeouts of the production image) on its own
// listener, then the
// instance's Start hook with the configuration, as func-go's Service.Start
// runs it (concurrently with serving), and returns once /health/readiness
// answers 200. func-go's own Start is not used: it reads the listen address
// from the process-wide LISTEN_ADDRESS and traps every signal, which only
// works for one function per process.
func Serve(ctx context.Context, o Options) (f *Function, err error) {
	o = o.Defaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	srv := &fhttp.New(o.Instance.(fhttp.Handler)).Server
	if o.Middleware != nil {
		srv.Handler = o.Middleware(srv.Handler)
	}
	srv.Handler = o.Metrics.wrap(o.Name, srv.Handler)
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("funchost: function %s: listen on %s: %w", o.Name, o.Addr, err)
	}
	startCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f = &Function{
		name:   o.Name,
		inst:   o.Instance,
		server: srv,
		ln:     ln,
		errs:   make(chan error, 2),
		cancel: cancel,
		log:    o.Logger.With("function", o.Name),
		served: make(chan struct{}),
	}
	go func() {
		defer close(f.served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.errs <- fmt.Errorf("function %s: serve: %w", o.Name, err)
		}
	}()
	if s, ok := o.Instance.(interface {
		Start(context.Context, map[string]string) error
	}); ok {
		go func() {
			if err := s.Start(startCtx, o.Config); err != nil {
				f.errs <- fmt.Errorf("function %s: start: %w", o.Name, err)
			}
		}()
	}
	if err := f.awaitReady(ctx, o.ReadyTimeout); err != nil {
		stopCtx, c := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer c()
		_ = f.Stop(stopCtx)
		return nil, err
	}
	return f, nil
}

// awaitReady polls /health/readiness as Knative's readiness probe would.
func (f *Function) awaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	url := f.URL() + "/health/readiness"
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case err := <-f.errs:
			return fmt.Errorf("funchost: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("funchost: function %s not ready after %s (last readiness answer: %s): %w", f.name, timeout, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// Name is the function's name.
func (f *Function) Name() string { return f.name }

// Addr is the address the function listens on.
func (f *Function) Addr() string { return f.ln.Addr().String() }

// URL is the function's base URL.
func (f *Function) URL() string { return "http://" + f.Addr() }

// Errors delivers failures after start-up: the Start hook returning an
// error or the server stopping unexpectedly. func-go stops the function on
// these; the host decides.
func (f *Function) Errors() <-chan error { return f.errs }

// Stop shuts the function down in func-go's order: the server drains
// in-flight requests, then the instance's Stop hook runs. Safe to call
// more than once.
func (f *Function) Stop(ctx context.Context) error {
	f.stopOnce.Do(func() {
		serr := f.server.Shutdown(ctx)
		<-f.served
		var ierr error
		if s, ok := f.inst.(interface{ Stop(context.Context) error }); ok {
			ierr = s.Stop(ctx)
		}
		f.cancel()
		if serr != nil {
			serr = fmt.Errorf("function %s: shut down server: %w", f.name, serr)
		}
		if ierr != nil {
			ierr = fmt.Errorf("function %s: stop: %w", f.name, ierr)
		}
		f.stopErr = errors.Join(serr, ierr)
	})
	return f.stopErr
}
