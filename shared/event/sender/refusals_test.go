package sender

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRefusalLogWritesOneLineAnInterval(t *testing.T) {
	var buf bytes.Buffer
	l := NewRefusalLog(slog.New(slog.NewTextHandler(&buf, nil)), time.Second)
	at := time.Unix(1000, 0)
	l.now = func() time.Time { return at }
	ctx := context.Background()
	for range 500 {
		l.Refused(ctx, "sender refused", "status", 401)
	}
	at = at.Add(time.Second)
	l.Refused(ctx, "sender refused", "status", 403)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 501 refusals over two intervals, want 2:\n%s", len(lines), buf.String())
	}
	if strings.Contains(lines[0], "refused_unlogged") || !strings.Contains(lines[1], "status=403") ||
		!strings.Contains(lines[1], "refused_unlogged=499") {
		t.Fatalf("lines do not count what they left out:\n%s", buf.String())
	}
}
