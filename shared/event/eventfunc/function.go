package eventfunc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/telemetry"
)

// Unit is a started event function: what it does with an event, and the
// connections it holds to do it.
type Unit interface {
	lifecycle.Unit
	Receive(ctx context.Context, e event.Event) error
}

// Setup reads a function's configuration from its environment (func.yaml
// run.envs, as func-go hands them to Start) and returns how to open its
// unit. An error here is a configuration the function cannot run with: it
// stops the function, where an unreachable dependency only delays it.
type Setup[U Unit] func(env map[string]string, log *slog.Logger) (lifecycle.Open[U], error)

// Function is a Knative event function instance: what each function's
// New() returns, and all the scaffold's main needs. func-go's http runtime
// calls Start, Ready, Stop and Handle.
type Function[U Unit] struct {
	name    string
	log     *slog.Logger
	setup   Setup[U]
	life    *lifecycle.Lifecycle[U]
	handler atomic.Pointer[Handler] // set by Start
	senders *sender.Verifier        // nil until started, and with authentication off
	otel    *telemetry.Providers    // set by Start
}

// New returns a function that has not started.
func New[U Unit](name string, setup Setup[U]) *Function[U] {
	log := slog.Default().With("function", name)
	f := &Function[U]{
		name:  name,
		log:   log,
		setup: setup,
		life:  lifecycle.New[U](lifecycle.Config{Name: name, Logger: log}),
	}
	return f
}

// Name is the function's name (its func.yaml name).
func (f *Function[U]) Name() string { return f.name }

// Start reads the configuration and begins opening the function's
// dependencies in the background: it fails only for a configuration the
// function cannot run with. The sender check (package sender) is part of
// every function's configuration.
func (f *Function[U]) Start(_ context.Context, env map[string]string) error {
	hcfg := HandlerConfig{Logger: f.log}
	scfg, serr := sender.ConfigFrom(env, f.name)
	if serr == nil {
		if scfg.Mode == sender.ModeOff {
			f.log.Error("EVENT SENDER AUTHENTICATION IS OFF: anyone who can reach this function can post it events; " +
				"set " + sender.EnvAuth + "=oidc once the cluster has Knative's authentication-oidc feature")
		} else if f.senders, serr = sender.NewVerifier(scfg); serr == nil {
			hcfg.Senders = f.senders
		}
	}
	otel, terr := telemetry.FromEnv(env, f.name)
	open, err := f.setup(env, f.log)
	if err := errors.Join(serr, terr, err); err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	f.otel = otel
	if otel.Tracing() {
		hcfg.Tracer, hcfg.Name = otel.TracerProvider(), f.name
	}
	f.handler.Store(NewHandler(f.receive, hcfg))
	// What the unit starts of its own (an outbox relay) traces and
	// measures with the function's providers.
	return f.life.Start(func(ctx context.Context) (U, error) {
		return open(telemetry.WithMeterProvider(telemetry.WithProvider(ctx, otel.TracerProvider()), otel.MeterProvider()))
	})
}

// Ready reports whether the dependencies are open and answer, and the
// issuer that vouches for senders has been reached; when not, the error
// says why (func-go writes it into the readiness answer).
func (f *Function[U]) Ready(ctx context.Context) (bool, error) {
	// The dependencies' reason first: it is the one an operator acts on.
	if ok, err := f.life.Ready(ctx); !ok {
		return false, err
	}
	if f.senders != nil {
		if err := f.senders.Ready(ctx); err != nil {
			return false, fmt.Errorf("%s: not ready: reaching the OIDC issuer that vouches for event senders failed: %w", f.name, err)
		}
	}
	return true, nil
}

// Stop closes the unit, then exports the spans still buffered and the
// metrics' last collection. func-go calls it after the server has drained.
func (f *Function[U]) Stop(ctx context.Context) error {
	err := f.life.Stop(ctx)
	if f.otel != nil {
		err = errors.Join(err, f.otel.Shutdown(ctx))
	}
	return err
}

// Unit returns the open unit, or an error wrapping lifecycle.ErrNotReady.
func (f *Function[U]) Unit() (U, error) { return f.life.Unit() }

// Handle takes one CloudEvent over HTTP.
func (f *Function[U]) Handle(w http.ResponseWriter, r *http.Request) {
	h := f.handler.Load()
	if h == nil {
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, f.name+" has not started")
		return
	}
	h.ServeHTTP(w, r)
}

func (f *Function[U]) receive(ctx context.Context, e event.Event) error {
	u, err := f.life.Unit()
	if err != nil {
		return err
	}
	return u.Receive(ctx, e)
}
