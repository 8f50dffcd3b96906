package httpapi

import (
	"net/http"
	"slices"
	"sync"
)

// Router is where a domain registers its endpoints: *http.ServeMux and
// *Routes both are one.
type Router interface {
	Handle(pattern string, handler http.Handler)
}

// Routes is a ServeMux that remembers the patterns registered on it, so a
// service can list its endpoints: the security suite holds every one of
// them to an authorization rule, and a new endpoint without a rule fails
// it.
type Routes struct {
	*http.ServeMux

	mu       sync.Mutex
	patterns []string
}

// NewRoutes returns an empty route table.
func NewRoutes() *Routes { return &Routes{ServeMux: http.NewServeMux()} }

// Handle registers handler for pattern on the mux and records the pattern.
func (r *Routes) Handle(pattern string, handler http.Handler) {
	r.ServeMux.Handle(pattern, handler)
	r.mu.Lock()
	r.patterns = append(r.patterns, pattern)
	r.mu.Unlock()
}

// HandleFunc registers fn like Handle.
func (r *Routes) HandleFunc(pattern string, fn func(http.ResponseWriter, *http.Request)) {
	r.Handle(pattern, http.HandlerFunc(fn))
}

// Patterns returns the registered patterns in registration order.
func (r *Routes) Patterns() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.patterns)
}
