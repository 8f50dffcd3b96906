package load_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	fcloudevents "knative.dev/func-go/cloudevents"
)

// TestMain quiets the process-wide logger the hosted functions log to, so
// test output shows failures rather than every request.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	fcloudevents.SetLogLevel(fcloudevents.LogWarn)
	os.Exit(m.Run())
}
