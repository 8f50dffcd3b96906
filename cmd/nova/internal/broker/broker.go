// Package broker gives Nova its Kafka: an embedded broker (kfake) that keeps
// its log, topics and committed group offsets on disk, or an existing cluster
// named by KAFKA_BROKERS. Either way the catalogue's topics are there, at no
// fewer partitions than the catalogue says, before anything produces.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
)

// DefaultPort is where the embedded broker listens, Kafka's usual port, so
// kcat and other tools find it without being told.
const DefaultPort = 9092

// DefaultDataDir is the embedded broker's data folder relative to the
// repository root; the root .gitignore keeps .nova/ out of version control.
const DefaultDataDir = ".nova/kafka"

// Config says which Kafka Nova uses.
type Config struct {
	// Brokers, when set, names an existing cluster (host:port, comma
	// separated in KAFKA_BROKERS); nothing is embedded then.
	Brokers []string
	// CreateTopics lets Open create missing catalogue topics (and add
	// partitions to short ones) on an existing cluster. The embedded broker
	// always creates them.
	CreateTopics bool

	// Nodes is how many brokers the embedded cluster runs; 0 means 1.
	// With more, partition leaders and group coordinators are spread
	// among them and can be moved (Faults.MoveLeaders), as a rolling
	// restart of a real cluster moves them. The nodes are listeners of
	// one process over one log: they model leadership, not redundancy.
	Nodes int
	// Port of the embedded broker's first node on 127.0.0.1; the other
	// nodes listen on the ports after it. 0 picks free ports.
	Port int
	// NodePorts, when set, are every node's port, one per node: how a
	// restart comes back on the ports the clients know.
	NodePorts []int
	// DataDir is the embedded broker's on-disk state.
	DataDir string
	// InMemory keeps the embedded broker's state in memory only (no
	// DataDir): it is gone when the broker stops.
	InMemory bool

	// Catalog lists the topics that must exist. Default: catalog.Default().
	Catalog *catalog.Catalog
	// Topics are topics besides the catalogue's that must exist, such as
	// the topics of the Knative Brokers in the manifests. They are created
	// when the catalogue's would be.
	Topics []Topic
	// Logger receives the embedded broker's warnings and errors.
	Logger *slog.Logger
	// Timeout bounds the topic check at start-up. Default 30s.
	Timeout time.Duration

	// Security is how Open's own client (the topic check) and Nova's
	// tools log in: for an existing cluster, what KAFKA_SASL_* and
	// KAFKA_TLS* say; for the embedded broker with Auth, left empty, its
	// superuser over SCRAM-SHA-512 (TLS needs the CA set here).
	Security kafka.Security
	// Auth, when set, makes the embedded broker demand SCRAM logins (and,
	// with Auth.ACLs, enforce each user's ACLs) and, with Auth.TLS, TLS.
	Auth *Auth
}

// Defaults returns c with every unset field at its default.
func (c Config) Defaults() Config {
	if c.Catalog == nil {
		c.Catalog = catalog.Default()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if len(c.Brokers) == 0 && c.Auth != nil && c.Auth.Superuser.Name != "" && c.Security.SASL == kafka.NoSASL {
		c.Security.SASL = kafka.ScramSHA512
		c.Security.Username, c.Security.Password = c.Auth.Superuser.Name, c.Auth.Superuser.Password
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if err := c.Security.Validate(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if err := c.Auth.Validate(); err != nil {
		return err
	}
	if len(c.Brokers) > 0 {
		if c.Auth != nil {
			return errors.New("broker: users and ACLs are set up only on the embedded broker")
		}
		for _, b := range c.Brokers {
			if strings.TrimSpace(b) == "" {
				return errors.New("broker: empty address in the broker list")
			}
		}
		return nil
	}
	if c.Nodes < 0 || c.Nodes > maxNodes {
		return fmt.Errorf("broker: %d nodes: the embedded cluster runs 1 to %d", c.Nodes, maxNodes)
	}
	if c.Port < 0 || c.Port+max(c.Nodes, 1)-1 > 65535 {
		return fmt.Errorf("broker: port %d out of range for %d nodes", c.Port, max(c.Nodes, 1))
	}
	if len(c.NodePorts) > 0 && len(c.NodePorts) != max(c.Nodes, 1) {
		return fmt.Errorf("broker: %d node ports for %d nodes", len(c.NodePorts), max(c.Nodes, 1))
	}
	for _, p := range c.NodePorts {
		if p < 0 || p > 65535 {
			return fmt.Errorf("broker: node port %d out of range", p)
		}
	}
	if c.DataDir == "" && !c.InMemory {
		return errors.New("broker: the embedded broker needs a data folder (or InMemory)")
	}
	return nil
}

// maxNodes bounds the embedded cluster: enough to move leaders among
// three brokers, as the smallest production cluster has.
const maxNodes = 5

// ports is each node's port.
func (c Config) ports() []int {
	if len(c.NodePorts) > 0 {
		return c.NodePorts
	}
	ports := make([]int, max(c.Nodes, 1))
	for i := range ports {
		if c.Port != 0 {
			ports[i] = c.Port + i
		}
	}
	return ports
}

// Broker is a running Kafka, embedded or external.
type Broker struct {
	addrs   []string
	cluster *kfake.Cluster // nil for an external cluster
	dataDir string
	created []string
	faults  *Faults // nil for an external cluster
	sec     kafka.Security
}

// Open starts the embedded broker, or connects to the external cluster, and
// makes sure the catalogue's topics are there. For the embedded broker state
// on disk is reloaded, so a restart resumes with the records and committed
// offsets it had.
func Open(ctx context.Context, cfg Config) (*Broker, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	if len(cfg.Brokers) > 0 {
		created, err := ensureAll(ctx, cfg.Brokers, cfg, cfg.CreateTopics)
		if err != nil {
			return nil, err
		}
		return &Broker{addrs: cfg.Brokers, created: created, sec: cfg.Security}, nil
	}

	opts := []kfake.Opt{
		kfake.Ports(cfg.ports()...),
		kfake.ClusterID("nova-local"),
		kfake.WithLogger(slogLogger{cfg.Logger}),
	}
	var (
		dir string
		err error
	)
	if !cfg.InMemory {
		if dir, err = filepath.Abs(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("broker: data folder %s: %w", cfg.DataDir, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("broker: data folder: %w", err)
		}
		opts = append(opts, kfake.DataDir(dir))
	}
	authOpts, err := cfg.Auth.opts(dir)
	if err != nil {
		return nil, err
	}
	opts = append(opts, authOpts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		if ports := cfg.ports(); ports[0] != 0 {
			return nil, fmt.Errorf("broker: start embedded Kafka on 127.0.0.1 port %s (in use? pick another with --kafka-port): %w",
				strings.Trim(fmt.Sprint(ports), "[]"), err)
		}
		return nil, fmt.Errorf("broker: start embedded Kafka: %w", err)
	}
	b := &Broker{addrs: c.ListenAddrs(), cluster: c, dataDir: dir, faults: NewFaults(c), sec: cfg.Security}
	if err := cfg.Auth.applyACLs(ctx, b.addrs, cfg.Security); err != nil {
		c.Close()
		return nil, err
	}
	created, err := ensureAll(ctx, b.addrs, cfg, true)
	if err != nil {
		c.Close()
		return nil, err
	}
	b.created = created
	return b, nil
}

// ensureAll makes sure of the catalogue's topics, then of cfg.Topics.
func ensureAll(ctx context.Context, addrs []string, cfg Config, create bool) ([]string, error) {
	created, err := EnsureTopics(ctx, addrs, cfg.Security, cfg.Catalog, create)
	if err != nil {
		return created, err
	}
	more, err := EnsureExtraTopics(ctx, addrs, cfg.Security, cfg.Topics, create)
	return append(created, more...), err
}

// Addrs are the bootstrap addresses clients use.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Security is how Nova's own clients log in: the embedded broker's
// superuser, or what Config.Security said for an existing cluster.
func (b *Broker) Security() kafka.Security { return b.sec }

// Embedded reports whether this process runs the broker.
func (b *Broker) Embedded() bool { return b.cluster != nil }

// DataDir is the embedded broker's data folder ("" for an external cluster).
func (b *Broker) DataDir() string { return b.dataDir }

// CreatedTopics lists the topics Open had to create (or grow).
func (b *Broker) CreatedTopics() []string { return append([]string(nil), b.created...) }

// CreateTopic creates a topic on the embedded broker.
func (b *Broker) CreateTopic(name string, partitions int32) error {
	if b.cluster == nil {
		return errors.New("broker: CreateTopic needs the embedded broker")
	}
	if err := b.cluster.CreateTopic(name, partitions, nil); err != nil {
		return fmt.Errorf("broker: create topic %s: %w", name, err)
	}
	return nil
}

// Faults injects failures into the embedded broker; nil for an external
// cluster.
func (b *Broker) Faults() *Faults { return b.faults }

// Close stops the embedded broker, writing its state to disk first. It is a
// no-op for an external cluster and safe to call twice.
func (b *Broker) Close() {
	if b.cluster != nil {
		b.cluster.Close()
	}
}

// slogLogger forwards kfake's warnings and errors; its info and debug lines
// describe every request and would drown the console.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		s.l.Error("kafka: " + fmt.Sprintf(format, args...))
	case kfake.LogLevelWarn:
		s.l.Warn("kafka: " + fmt.Sprintf(format, args...))
	}
}
