// Package function is nova-api, the root Knative HTTP function: the producer
// side of Nova (identity, content and the feed reader today; media and
// messaging join them) with its outbox relay. The work is in package
// shared/api; this is the thin Knative face.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/http.Start(New()).
package function

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/nova-social/nova/shared/api"
	"github.com/nova-social/nova/shared/httpapi"
)

// API is the nova-api function instance.
type API struct {
	log *slog.Logger

	mu        sync.RWMutex
	server    *api.Server
	stopRelay context.CancelFunc
	relayDone chan struct{}
}

// New returns an unstarted nova-api instance.
func New() *API {
	return &API{log: slog.Default().With("function", "nova-api")}
}

// Start is called by func-go with the function's configuration (func.yaml
// run.envs and the process environment): it connects, migrates, and starts
// the outbox relay.
func (a *API) Start(ctx context.Context, env map[string]string) error {
	cfg, err := api.ConfigFrom(env)
	if err != nil {
		return err
	}
	srv, err := api.New(ctx, cfg, a.log)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Run(rctx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("outbox relay stopped", "error", err)
		}
	}()
	a.mu.Lock()
	a.server, a.stopRelay, a.relayDone = srv, cancel, done
	a.mu.Unlock()
	return nil
}

// Stop stops the relay and closes the connections.
func (a *API) Stop(ctx context.Context) error {
	a.mu.Lock()
	srv, cancel, done := a.server, a.stopRelay, a.relayDone
	a.server = nil
	a.mu.Unlock()
	if srv == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return srv.Close()
}

// Ready reports whether the stores answer; until then Knative (and nova
// run) send no traffic.
func (a *API) Ready(ctx context.Context) (bool, error) {
	a.mu.RLock()
	srv := a.server
	a.mu.RUnlock()
	if srv == nil {
		return false, nil
	}
	if err := srv.Ready(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Handle serves every API request.
func (a *API) Handle(w http.ResponseWriter, r *http.Request) {
	a.mu.RLock()
	srv := a.server
	a.mu.RUnlock()
	if srv == nil {
		httpapi.WriteError(w, r, a.log, httpapi.Unavailable("nova-api is starting"))
		return
	}
	srv.Handler().ServeHTTP(w, r)
}
