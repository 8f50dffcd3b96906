package e2e_test

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain quiets the process-wide logger the hosted functions log to (as
// nova run's main sets it), so test output shows failures, not every request.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
