// Package function is nova-api, the root Knative HTTP function: the
// producer side of Nova (identity, content, media, messaging and the read
// endpoints) with its outbox relay. The work is in package shared/api; this
// is the thin Knative face.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/http.Start(New()).
package function

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/nova-social/nova/shared/api"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/lifecycle"
)

// Name is the function's name.
const Name = "nova-api"

// API is the nova-api function instance.
type API struct {
	log  *slog.Logger
	life *lifecycle.Lifecycle[*unit]
}

// New returns an unstarted nova-api instance.
func New() *API {
	log := slog.Default().With("function", Name)
	return &API{log: log, life: lifecycle.New[*unit](lifecycle.Config{Name: Name, Logger: log})}
}

// Start is called by func-go with the function's configuration (func.yaml
// run.envs and the process environment). It fails only for a configuration
// nova-api cannot run with; connecting, migrating and starting the outbox
// relay happen in the background, and until they succeed nova-api answers
// not-ready on /health/readiness with the reason.
func (a *API) Start(_ context.Context, env map[string]string) error {
	cfg, err := api.ConfigFrom(env)
	if err != nil {
		return err
	}
	return a.life.Start(func(ctx context.Context) (*unit, error) {
		srv, err := api.New(ctx, cfg, a.log)
		if err != nil {
			return nil, err
		}
		// The relay outlives ctx, which bounds only this attempt.
		rctx, cancel := context.WithCancel(context.Background())
		u := &unit{Server: srv, stopRelay: cancel, relayDone: make(chan struct{})}
		go func() {
			defer close(u.relayDone)
			srv.Run(rctx)
		}()
		return u, nil
	})
}

// unit is a started nova-api and its outbox relay.
type unit struct {
	*api.Server
	stopRelay context.CancelFunc
	relayDone chan struct{}
}

// Ping reports whether the stores answer.
func (u *unit) Ping(ctx context.Context) error { return u.Server.Ready(ctx) }

// Close stops the relay and closes the connections.
func (u *unit) Close(ctx context.Context) error {
	u.stopRelay()
	select {
	case <-u.relayDone:
	case <-ctx.Done():
	}
	return u.Server.Close()
}

// Stop stops the relay and closes the connections.
func (a *API) Stop(ctx context.Context) error { return a.life.Stop(ctx) }

// Ready reports whether nova-api is started and its stores answer; until
// then Knative (and nova run) send no traffic.
func (a *API) Ready(ctx context.Context) (bool, error) { return a.life.Ready(ctx) }

// Handle serves every API request.
func (a *API) Handle(w http.ResponseWriter, r *http.Request) {
	u, err := a.life.Unit()
	if err != nil {
		httpapi.WriteError(w, r, a.log, httpapi.Unavailable("nova-api is not ready").Wrap(err))
		return
	}
	u.Handler().ServeHTTP(w, r)
}
