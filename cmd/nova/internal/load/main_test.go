package load_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	fhttp "knative.dev/func-go/http"
)

// TestMain quiets the process-wide logger the hosted functions log to, so
// test output shows failures rather than every request.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	fhttp.SetLogLevel(fhttp.LogWarn)
	os.Exit(m.Run())
}
