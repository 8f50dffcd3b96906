package fault

import (
	"net/http"
	"strings"
	"sync"
)

// Switch makes chosen functions answer every request (but their health
// probes) with an error status for a while. Its Middleware fits
// system.Config.Middleware.
type Switch struct {
	mu       sync.Mutex
	failing  map[string]failure
	injected map[string]int64 // function → requests answered by the switch
}

type failure struct {
	status int
	// afterWork runs the handler first and drops its answer: the work is
	// done but the caller sees a failure and delivers again.
	afterWork bool
}

// NewSwitch returns a switch with every function healthy.
func NewSwitch() *Switch {
	return &Switch{failing: map[string]failure{}, injected: map[string]int64{}}
}

// Fail makes function answer status (e.g. 500) without doing its work,
// until Heal: a function whose store is down.
func (s *Switch) Fail(function string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing[function] = failure{status: status}
}

// LoseAnswers makes function do its work and then answer status instead
// of its own answer, until Heal: a reply lost on the way back (a timeout,
// a crash after the write), which makes the caller deliver again what was
// already applied.
func (s *Switch) LoseAnswers(function string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing[function] = failure{status: status, afterWork: true}
}

// Heal lets function's requests through again.
func (s *Switch) Heal(function string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failing, function)
}

// Injected counts the requests to function the switch answered itself.
func (s *Switch) Injected(function string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.injected[function]
}

// Middleware wraps function's handler. Health probes pass: a failing
// function is still running, it fails its work, as a function whose store
// is broken would.
func (s *Switch) Middleware(function string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/health/") {
			s.mu.Lock()
			f, failing := s.failing[function]
			if failing {
				s.injected[function]++
			}
			s.mu.Unlock()
			if failing {
				if f.afterWork {
					next.ServeHTTP(&discard{header: http.Header{}}, r)
				}
				http.Error(w, "fault injected: "+http.StatusText(f.status), f.status)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// discard is a ResponseWriter that drops the answer.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
