package e2e_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	fhttp "knative.dev/func-go/http"
)

// TestMain quiets the process-wide loggers the hosted functions and
// func-go's runtime log to (as nova run's main sets them), so test output
// shows failures, not every request and readiness probe.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	fhttp.SetLogLevel(fhttp.LogWarn)
	os.Exit(m.Run())
}
