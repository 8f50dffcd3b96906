// Package function is nova-api, the root Knative HTTP function: the producer
// side of Nova (identity, content, media, messaging) and its read endpoints.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/http.Start(New()).
package function

import (
	"context"
	"net/http"
)

// API is the nova-api function instance.
type API struct {
	mux *http.ServeMux
}

// New returns an unstarted nova-api instance.
func New() *API {
	return &API{mux: http.NewServeMux()}
}

// Start is called by func-go with the function's configuration (func.yaml
// run.envs and the process environment).
func (a *API) Start(ctx context.Context, cfg map[string]string) error {
	return nil
}

// Handle serves every API request.
func (a *API) Handle(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}
