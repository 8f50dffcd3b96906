package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/jaeger"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/telemetry"
)

// startJaeger runs Jaeger for `nova run --trace` and points the whole run
// at it: every function, nova-api and the dispatcher export their spans
// there through the standard OTEL_* variables (every trace kept: the
// sampler is always on, which a developer following one post wants), and
// the console links events to its UI. The returned stop ends Jaeger after
// the system has flushed its spans.
func startJaeger(ctx context.Context, cfg *system.Config, bin string, st Streams) (stop func(), err error) {
	root := cfg.Root
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		if root, err = system.FindRoot(wd); err != nil {
			return nil, err
		}
	}
	if bin == "" {
		bin = filepath.Join(root, "bin", "jaeger")
	}
	fmt.Fprintln(st.Out, "Starting Jaeger…")
	j, err := jaeger.Start(ctx, jaeger.Config{Bin: bin, Dir: filepath.Join(root, ".nova", "jaeger"), Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	env := cfg.Environ
	if env == nil {
		env = funchost.Environ()
	}
	env[telemetry.EnvTracesEndpoint] = j.OTLPTracesURL()
	env[telemetry.EnvSampler] = "parentbased_always_on"
	delete(env, telemetry.EnvTracesExporter)
	delete(env, telemetry.EnvSDKDisabled)
	cfg.Environ = env
	// The console draws traces from Jaeger's query API itself: a Jaeger
	// built from source (go build) serves no UI, only a placeholder page.
	cfg.ConsoleTraceAPI = j.UIURL()
	fmt.Fprintf(st.Out, "Jaeger: query API at %s/api/traces; each event's trace on the console (traces/<id>)\n", j.UIURL())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := j.Stop(ctx); err != nil {
			fmt.Fprintf(st.Err, "warning: %v\n", err)
		}
	}, nil
}
