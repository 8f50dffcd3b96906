package sender

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// RefusalLog logs refused senders without letting a stranger who floods a
// receiver with forged requests flood its log too: it writes the first
// refusal of every interval, with how many it left out since its last line.
// It is safe for concurrent use.
type RefusalLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// NewRefusalLog returns a RefusalLog writing WARN lines to log at most once
// every interval (10s when not positive).
func NewRefusalLog(log *slog.Logger, every time.Duration) *RefusalLog {
	if every <= 0 {
		every = 10 * time.Second
	}
	return &RefusalLog{log: log, every: every, now: time.Now}
}

// Refused records one refusal; msg and attrs describe it as slog takes them.
func (l *RefusalLog) Refused(ctx context.Context, msg string, attrs ...any) {
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.skipped++
		l.mu.Unlock()
		return
	}
	skipped := l.skipped
	l.last, l.skipped = now, 0
	l.mu.Unlock()
	if skipped > 0 {
		attrs = append(attrs, "refused_unlogged", skipped)
	}
	l.log.WarnContext(ctx, msg, attrs...)
}
