// Package system runs the whole of Nova on one machine: Kafka (embedded or
// KAFKA_BROKERS), the database migrations, every function served as Knative
// serves it, the outbox relay and the dispatcher that routes events between
// them as eventing/ (or the overlay named) says: its KafkaSources, and the
// Triggers of its Kafka Brokers, whose ingress it serves too.
package system

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/console"
	"github.com/nova-social/nova/cmd/nova/internal/registry"
)

// DispatcherService is the service name of the local dispatcher's spans.
const DispatcherService = "nova-dispatcher"

// Defaults.
const (
	DefaultHost        = "127.0.0.1"
	DefaultPortBase    = 8080 // nova-api; the other functions follow
	DefaultMetricsAddr = "127.0.0.1:9464"
	// DefaultIngressAddr serves the Kafka Broker ingress when the
	// manifests hold Brokers.
	DefaultIngressAddr = "127.0.0.1:8070"
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/nova?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	RootModule         = "github.com/nova-social/nova"
)

// maxReplicas bounds Config.Replicas: enough to scale out and in on one
// machine.
const maxReplicas = 5

// Config says how to run the system.
type Config struct {
	// Root is the repository root (it holds eventing/, functions/ and the
	// root func.yaml). Default: found from the working directory.
	Root string
	// Eventing is the kustomization to run (what kubectl apply -k would
	// be given): it is built in process and its ConfigMaps (which func.yaml
	// files reference), KafkaSources, Brokers and Triggers are run.
	// Default: <Root>/eventing; eventing/overlays/broker runs the Kafka
	// Broker variant.
	Eventing string

	// Host is the interface every function listens on.
	Host string
	// PortBase is nova-api's port; each other function listens on
	// PortBase + its registry slot. 0 gives every function a free port.
	PortBase int
	// MetricsAddr serves the dispatcher's Prometheus metrics.
	MetricsAddr string
	// IngressAddr serves the ingress of the manifests' Kafka Brokers (the
	// kafka-broker-ingress service of a cluster), at /<namespace>/<name>;
	// nothing listens there when they hold no Broker.
	IngressAddr string
	// ConsoleAddr serves the console (package console: the event flow
	// live, the latest events of any topic, the dead letters and their
	// replay) on a loopback address; "" serves none. nova run's
	// --console-addr defaults to console.DefaultAddr.
	ConsoleAddr string
	// ConsoleTraceURL is the trace UI (Jaeger UI) the console links an
	// event's traceparent to; "" links none.
	ConsoleTraceURL string
	// ConsoleTraceAPI is Jaeger's query service, from which the console
	// draws an event's trace on its own page (nova run --trace sets it).
	ConsoleTraceAPI string

	// Kafka: the embedded broker unless Kafka.Brokers is set.
	Kafka broker.Config
	// KafkaNoAuth runs the embedded broker as plaintext without logins or
	// ACLs. By default it demands TLS and each function's SCRAM login and
	// enforces the KafkaUsers' ACLs, as the cluster does.
	KafkaNoAuth bool
	// EventAuthOff runs every event function with NOVA_EVENT_AUTH=off (the
	// mode for clusters without Knative's authentication-oidc), in place of
	// nova-config's "oidc": any local process may then post events to the
	// functions by hand, as the README's curl examples do.
	EventAuthOff bool

	DatabaseURL string
	// DBPools sizes the PostgreSQL pool of the functions it names; the
	// others take DATABASE_URL's pool_max_conns if it has one, else
	// DefaultAPIPool (nova-api) or DefaultPoolSize.
	DBPools  PoolSizes
	RedisURL string
	// MailDir is where the local mail relay keeps the mail, when the
	// environment names no relay (SMTP_ADDR). Default MailDir(Root).
	MailDir string

	// Functions to host. Default: registry.Functions().
	Functions []registry.Function
	// Environ is the environment the functions see (before the runtime
	// adds the addresses it knows). Default: the process environment.
	Environ map[string]string

	// Replicas runs the functions it names as that many instances behind
	// one address, round-robin (package replicas), as Knative scales a
	// Service out; the others run one. Each instance has its own
	// PostgreSQL pool, counted in the connection budget.
	Replicas Replicas

	// Middleware, when set, wraps each function's HTTP handler; function is
	// the func.yaml name. Fault-injection tests use it to make a function
	// fail for a while.
	Middleware func(function string, next http.Handler) http.Handler

	// ReadyTimeout bounds the start-up of each function.
	ReadyTimeout time.Duration
	// StopTimeout bounds the whole shutdown.
	StopTimeout time.Duration
	Logger      *slog.Logger
}

// Defaults fills unset fields. Root is looked up from the working
// directory when empty, which can fail; Validate reports it.
func (c Config) Defaults() Config {
	if c.Root == "" {
		if wd, err := os.Getwd(); err == nil {
			c.Root, _ = FindRoot(wd)
		}
	}
	if c.Eventing == "" && c.Root != "" {
		c.Eventing = filepath.Join(c.Root, "eventing")
	}
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.MetricsAddr == "" {
		c.MetricsAddr = DefaultMetricsAddr
	}
	if c.IngressAddr == "" {
		c.IngressAddr = DefaultIngressAddr
	}
	if c.Kafka.DataDir == "" && c.Root != "" {
		c.Kafka.DataDir = filepath.Join(c.Root, broker.DefaultDataDir)
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = DefaultDatabaseURL
	}
	if c.MailDir == "" && c.Root != "" {
		c.MailDir = MailDir(c.Root)
	}
	if c.RedisURL == "" {
		c.RedisURL = DefaultRedisURL
	}
	if c.Functions == nil {
		c.Functions = registry.Functions()
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 60 * time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("repository root not found: run nova inside the Nova repository or pass --root"))
	} else if _, err := os.Stat(filepath.Join(c.Root, "func.yaml")); err != nil {
		errs = append(errs, fmt.Errorf("%s is not the Nova repository root (no func.yaml)", c.Root))
	}
	if c.PortBase < 0 || c.PortBase > 65535 {
		errs = append(errs, fmt.Errorf("port base %d out of range", c.PortBase))
	}
	if c.ConsoleAddr != "" {
		if err := console.CheckAddr(c.ConsoleAddr); err != nil {
			errs = append(errs, err)
		}
	}
	if err := console.CheckTraceURL(c.ConsoleTraceAPI); err != nil {
		errs = append(errs, err)
	}
	if err := console.CheckTraceURL(c.ConsoleTraceURL); err != nil {
		errs = append(errs, err)
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	for name, n := range c.Replicas {
		if n < 1 || n > maxReplicas {
			errs = append(errs, fmt.Errorf("%d replicas of %s: want 1 to %d", n, name, maxReplicas))
		}
		if !slices.ContainsFunc(c.Functions, func(f registry.Function) bool { return f.Name == name }) {
			errs = append(errs, fmt.Errorf("replicas of %s, which is not hosted", name))
		}
	}
	return errors.Join(errs...)
}

// FindRoot walks up from dir to the folder whose go.mod is the root module.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && moduleName(string(raw)) == RootModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", RootModule)
		}
		dir = parent
	}
}

func moduleName(gomod string) string {
	for _, line := range strings.Split(gomod, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
