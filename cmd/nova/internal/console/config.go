package console

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Defaults.
const (
	// DefaultAddr is loopback only: the console shows every event's data
	// and replays dead letters, and asks no one for a login.
	DefaultAddr        = "127.0.0.1:9470"
	DefaultInterval    = time.Second
	DefaultEvents      = 20
	MaxEvents          = 200
	DefaultDeadLetters = 100
)

// Config says what the console shows and where.
type Config struct {
	// Addr is the loopback address to listen on; port 0 picks a free one.
	Addr string
	// TraceURL is the base URL of a trace UI (Jaeger UI's): an event
	// carrying a W3C traceparent links to <TraceURL>/trace/<trace id>.
	// Empty: no links.
	TraceURL string
	// TraceAPI is the base URL of Jaeger's query service (its /api/traces),
	// which the console draws a trace from on its own page, /traces/<id>:
	// events then link there rather than to TraceURL. nova run --trace sets
	// it to the Jaeger it starts, whose Go build carries no UI of its own.
	TraceAPI string

	// Manifests are what nova run runs: the sources, Brokers and Triggers
	// the topology is drawn from.
	Manifests *manifests.Set
	// Catalog names the topics and which functions write each. Default
	// catalog.Default().
	Catalog *catalog.Catalog
	// Metrics is the registry the dispatcher counts in, read in process.
	Metrics prometheus.Gatherer
	// Kafka says where Kafka is and how to log in to read any topic and
	// replay to it; asked each time, since a run may restart its broker.
	Kafka func() (brokers []string, sec kafka.Security)
	// DatabaseURL is the database holding the dead-letter store.
	DatabaseURL string
	// Functions are the hosted functions and their addresses, which name
	// the consumer that failed a dead letter.
	Functions []instance.Function

	// Interval is how often the live figures are pushed.
	Interval time.Duration
	// Events is how many of a topic's latest events a page shows unless
	// the page asks for another number (at most MaxEvents).
	Events int
	// DeadLetters is how many dead-letter entries the page lists, newest
	// first.
	DeadLetters int
	Logger      *slog.Logger
}

// Defaults fills unset fields.
func (c Config) Defaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Catalog == nil {
		c.Catalog = catalog.Default()
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Events == 0 {
		c.Events = DefaultEvents
	}
	if c.DeadLetters == 0 {
		c.DeadLetters = DefaultDeadLetters
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a configuration that cannot work, or that would serve
// the console beyond this machine.
func (c Config) Validate() error {
	var errs []error
	if err := CheckAddr(c.Addr); err != nil {
		errs = append(errs, err)
	}
	if err := CheckTraceURL(c.TraceAPI); err != nil {
		errs = append(errs, err)
	}
	if err := CheckTraceURL(c.TraceURL); err != nil {
		errs = append(errs, err)
	}
	if c.Manifests == nil {
		errs = append(errs, errors.New("console: no manifests"))
	}
	if c.Metrics == nil {
		errs = append(errs, errors.New("console: no metrics registry"))
	}
	if c.Kafka == nil {
		errs = append(errs, errors.New("console: no Kafka"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("console: no database URL"))
	}
	if c.Interval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("console: interval %s is below 100ms", c.Interval))
	}
	if c.Events < 1 || c.Events > MaxEvents {
		errs = append(errs, fmt.Errorf("console: %d events per page: want 1 to %d", c.Events, MaxEvents))
	}
	if c.DeadLetters < 1 {
		errs = append(errs, fmt.Errorf("console: %d dead letters per page: want at least 1", c.DeadLetters))
	}
	return errors.Join(errs...)
}

// CheckTraceURL refuses a trace UI base URL the console could not link
// to safely: only http and https, without query or fragment ("" is none).
func CheckTraceURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("console: trace UI URL %q: want an http or https URL without login, query or fragment, such as http://127.0.0.1:16686", s)
	}
	return nil
}

// CheckAddr refuses an address another machine could reach: the console
// has no login, so the loopback interface is its only guard.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("console: address %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("console: address %q: the port %q is not a number from 0 to 65535", addr, port)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("console: address %q is not a loopback address (127.0.0.1, ::1 or localhost): the console has no login", addr)
	}
	return nil
}
