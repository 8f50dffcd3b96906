// Package jaeger runs Jaeger all-in-one (the jaeger binary, an
// OpenTelemetry Collector distribution with Jaeger's storage and UI) as a
// child process, keeping traces in memory, so that `nova run --trace` and
// the tests have a trace viewer with one command and nothing installed. It
// also reads a trace back through Jaeger's query API.
package jaeger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults: Jaeger's own ports, on the loopback interface.
const (
	DefaultOTLPAddr   = "127.0.0.1:4318"
	DefaultUIAddr     = "127.0.0.1:16686"
	DefaultHealthAddr = "127.0.0.1:13133"
	DefaultGRPCAddr   = "127.0.0.1:16685"
)

// Config says where Jaeger listens and which binary to run.
type Config struct {
	// Bin is the jaeger executable (make jaeger builds bin/jaeger from the
	// version pinned in tools/jaeger/go.mod).
	Bin string
	// Dir holds the configuration file written for it.
	Dir string
	// OTLPAddr takes spans (OTLP over HTTP), UIAddr serves the UI and the
	// query API, GRPCAddr the query API over gRPC, HealthAddr the health
	// check. "127.0.0.1:0" picks a free port. GRPCAddr defaults to
	// Jaeger's own port beside the default UIAddr, else a free one.
	OTLPAddr, UIAddr, GRPCAddr, HealthAddr string
	// MaxTraces bounds the memory store. Default 100,000.
	MaxTraces int
	// StartTimeout bounds the wait for it to answer. Default 60s.
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Defaults fills unset fields.
func (c Config) Defaults() Config {
	if c.OTLPAddr == "" {
		c.OTLPAddr = DefaultOTLPAddr
	}
	if c.UIAddr == "" {
		c.UIAddr = DefaultUIAddr
	}
	if c.HealthAddr == "" {
		c.HealthAddr = DefaultHealthAddr
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
		if c.UIAddr != DefaultUIAddr {
			if host, _, err := net.SplitHostPort(c.UIAddr); err == nil {
				c.GRPCAddr = net.JoinHostPort(host, "0")
			}
		}
	}
	if c.MaxTraces <= 0 {
		c.MaxTraces = 100_000
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ErrNoBinary means the jaeger executable is not where Config.Bin says.
var ErrNoBinary = errors.New("jaeger: no jaeger executable: build it with `make jaeger` (bin/jaeger, the version tools/jaeger/go.mod pins)")

// Validate reports a Config Jaeger cannot start with.
func (c Config) Validate() error {
	c = c.Defaults()
	var errs []error
	if st, err := os.Stat(c.Bin); err != nil || st.IsDir() {
		errs = append(errs, fmt.Errorf("%w (looked for %q)", ErrNoBinary, c.Bin))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("jaeger: no folder for its configuration"))
	}
	for _, a := range []string{c.OTLPAddr, c.UIAddr, c.GRPCAddr, c.HealthAddr} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("jaeger: address %q: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// Jaeger is a running Jaeger.
type Jaeger struct {
	cfg  Config
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set when done closes
	out  *output
}

// Start runs Jaeger and waits until its health check answers. Ports given
// as :0 are picked here, so they can be written into its configuration.
func Start(ctx context.Context, cfg Config) (*Jaeger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.Defaults()
	// A port picked here is free until Jaeger binds it, but another process
	// may take it in between: then pick again.
	for attempt := 1; ; attempt++ {
		j, err := start(ctx, cfg)
		if err == nil || attempt == 3 || !picksPorts(cfg) || !errors.Is(err, errPortTaken) {
			return j, err
		}
	}
}

// errPortTaken marks a Jaeger that exited because a port was taken.
var errPortTaken = errors.New("jaeger: a port it was given is taken")

func picksPorts(c Config) bool {
	for _, a := range []string{c.OTLPAddr, c.UIAddr, c.GRPCAddr, c.HealthAddr} {
		if _, port, _ := net.SplitHostPort(a); port == "0" {
			return true
		}
	}
	return false
}

func start(ctx context.Context, cfg Config) (*Jaeger, error) {
	var err error
	for _, a := range []*string{&cfg.OTLPAddr, &cfg.UIAddr, &cfg.GRPCAddr, &cfg.HealthAddr} {
		if *a, err = pickPort(*a); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	file := filepath.Join(cfg.Dir, "jaeger.yaml")
	if err := os.WriteFile(file, []byte(configYAML(cfg)), 0o600); err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	j := &Jaeger{cfg: cfg, done: make(chan struct{}), out: &output{}}
	// Not CommandContext: Stop ends it with SIGTERM and waits, so its last
	// words are kept.
	j.cmd = exec.Command(cfg.Bin, "--config", "file:"+file)
	j.cmd.Stdout, j.cmd.Stderr = j.out, j.out
	// Its own process group: a Ctrl-C at the terminal reaches nova run,
	// which stops Jaeger after the functions have flushed their spans.
	j.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := j.cmd.Start(); err != nil {
		return nil, fmt.Errorf("jaeger: start %s: %w", cfg.Bin, err)
	}
	go func() {
		j.err = j.cmd.Wait()
		close(j.done)
	}()
	if err := j.waitHealthy(ctx); err != nil {
		_ = j.Stop(context.Background())
		return nil, err
	}
	cfg.Logger.Info("jaeger is up", "ui", j.UIURL(), "otlp", j.OTLPTracesURL())
	return j, nil
}

// pickPort turns host:0 into a free port of host.
func pickPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("jaeger: pick a port on %s: %w", host, err)
	}
	defer ln.Close()
	return net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)), nil
}

func (j *Jaeger) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, j.cfg.StartTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+j.cfg.HealthAddr+"/status", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-j.done:
			out := j.Output()
			if strings.Contains(out, "address already in use") {
				return fmt.Errorf("%w (%w):\n%s", errPortTaken, j.err, out)
			}
			return fmt.Errorf("jaeger exited before it was ready (%w):\n%s", j.err, out)
		case <-ctx.Done():
			return fmt.Errorf("jaeger did not answer on %s within %s:\n%s", j.cfg.HealthAddr, j.cfg.StartTimeout, j.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// OTLPTracesURL is where spans go: the value of
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. Jaeger takes traces only, so a run
// pointed at it names the traces endpoint, not the shared one, and exports
// no metrics.
func (j *Jaeger) OTLPTracesURL() string { return "http://" + j.cfg.OTLPAddr + "/v1/traces" }

// UIURL is the Jaeger UI; a trace is at UIURL()/trace/<id>.
func (j *Jaeger) UIURL() string { return "http://" + j.cfg.UIAddr }

// Output is what Jaeger printed.
func (j *Jaeger) Output() string {
	return j.out.String()
}

// Stop ends Jaeger (SIGINT, as a Ctrl-C; SIGKILL if ctx ends first: it
// keeps traces in memory only, so nothing is lost that a stop would save).
func (j *Jaeger) Stop(ctx context.Context) error {
	select {
	case <-j.done:
		return nil
	default:
	}
	_ = j.cmd.Process.Signal(os.Interrupt)
	select {
	case <-j.done:
	case <-ctx.Done():
		_ = j.cmd.Process.Kill()
		<-j.done
	}
	return nil
}

// configYAML is all-in-one's pipeline cut to what Nova uses: OTLP over
// HTTP in, the memory store, the UI and query API, the health check; no
// other receiver and no port of its own telemetry, so a second Jaeger (a
// test's) can run beside a developer's.
func configYAML(c Config) string {
	return fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: %q
    grpc:
      endpoint: %q
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: %d
  healthcheckv2:
    use_v2: true
    http:
      endpoint: %q
receivers:
  otlp:
    protocols:
      http:
        endpoint: %q
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, c.UIAddr, c.GRPCAddr, c.MaxTraces, c.HealthAddr, c.OTLPAddr)
}
