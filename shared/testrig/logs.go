package testrig

import (
	"bytes"
	"sync"
)

// Logs is a log sink that every goroutine of a running system may write to
// while a test reads it: give it to slog.NewJSONHandler, then search
// String() for what must or must not have been logged.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
