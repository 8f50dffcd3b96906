package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	fhttp "knative.dev/func-go/http"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/console"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/event/kafka"
)

func runCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("run", "[flags]", st)
	var (
		cfg      system.Config
		brokers  string
		logLevel slog.Level
	)
	fs.StringVar(&cfg.Root, "root", "", "repository root (default: found from the working directory) [NOVA_ROOT]")
	fs.StringVar(&cfg.Eventing, "eventing", "", "kustomization to run, as kubectl apply -k would apply it: its ConfigMaps, KafkaSources, Brokers and Triggers (default <root>/eventing; eventing/overlays/broker for the Kafka Broker) [NOVA_EVENTING]")
	fs.StringVar(&cfg.Host, "host", system.DefaultHost, "interface the functions listen on")
	fs.IntVar(&cfg.PortBase, "port-base", system.DefaultPortBase, "nova-api's port; the other functions take the next ones (0: free ports) [NOVA_PORT_BASE]")
	fs.StringVar(&cfg.IngressAddr, "ingress-addr", system.DefaultIngressAddr, "address of the Kafka Broker ingress, when the manifests hold Brokers [NOVA_INGRESS_ADDR]")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", system.DefaultMetricsAddr, "address of the dispatcher's Prometheus metrics [NOVA_METRICS_ADDR]")
	fs.StringVar(&cfg.ConsoleAddr, "console-addr", console.DefaultAddr, "loopback address of the web console: the event flow live, latest events, dead letters and replay (off: none) [NOVA_CONSOLE_ADDR]")
	fs.StringVar(&cfg.ConsoleTraceURL, "console-trace-url", "", "trace UI (Jaeger UI) the console links an event's traceparent to, as <url>/trace/<trace id> [NOVA_CONSOLE_TRACE_URL]")
	fs.StringVar(&brokers, "kafka-brokers", "", "use this Kafka cluster instead of the embedded broker [KAFKA_BROKERS]")
	fs.BoolVar(&cfg.Kafka.CreateTopics, "create-topics", false, "with --kafka-brokers: create missing catalogue topics")
	fs.IntVar(&cfg.Kafka.Port, "kafka-port", broker.DefaultPort, "port of the embedded Kafka (its first node's; the others take the next ones) [NOVA_KAFKA_PORT]")
	fs.IntVar(&cfg.Kafka.Nodes, "kafka-nodes", 1, "brokers in the embedded Kafka cluster: with 3, partition leaders and group coordinators are spread as in a production cluster [NOVA_KAFKA_NODES]")
	fs.BoolVar(&cfg.EventAuthOff, "event-auth-off", false, "let every event function admit any sender (NOVA_EVENT_AUTH=off), to post events to them by hand; by default they admit only the dispatcher's tokens, as in the cluster")
	fs.BoolVar(&cfg.KafkaNoAuth, "kafka-no-auth", false, "run the embedded Kafka in plaintext without logins or ACLs (by default: TLS, each function's SCRAM login, the KafkaUsers' ACLs)")
	fs.StringVar(&cfg.Kafka.DataDir, "data-dir", "", "embedded Kafka's data folder (default <root>/.nova/kafka) [NOVA_DATA_DIR]")
	fs.StringVar(&cfg.DatabaseURL, "database-url", system.DefaultDatabaseURL, "PostgreSQL; its database is created when missing [DATABASE_URL]")
	fs.Var(&cfg.Replicas, "replicas", "run these functions as N instances behind one address, round-robin, as Knative scales a Service out: function=N,... such as feed-fanout=3,nova-api=2 (each with its own PostgreSQL pool) [NOVA_REPLICAS]")
	fs.Var(&cfg.DBPools, "db-pools", fmt.Sprintf("PostgreSQL pool sizes, function=N,... (default nova-api=%d, the others %d, one more with an outbox relay; DATABASE_URL's pool_max_conns sizes every one) [NOVA_DB_POOLS]", system.DefaultAPIPool, system.DefaultPoolSize))
	fs.StringVar(&cfg.RedisURL, "redis-url", system.DefaultRedisURL, "Redis [REDIS_URL]")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error [NOVA_LOG_LEVEL]")
	var (
		traced    bool
		jaegerBin string
	)
	fs.BoolVar(&traced, "trace", false, "start Jaeger (all-in-one, traces in memory) and send it every span of the run; without it, spans go where OTEL_EXPORTER_OTLP_ENDPOINT says, if anywhere [NOVA_TRACE]")
	fs.StringVar(&jaegerBin, "jaeger-bin", "", "the jaeger executable for --trace (default <root>/bin/jaeger, built by make jaeger) [NOVA_JAEGER_BIN]")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg.Kafka.Brokers = kafka.ParseBrokers(brokers)
	if cfg.ConsoleAddr == "off" {
		cfg.ConsoleAddr = ""
	}
	cfg.Logger = newLogger(st.Err, logLevel)
	// Functions log through slog.Default, as they do under the kn func
	// scaffold; here it is the runtime's logger, so every line looks alike.
	slog.SetDefault(cfg.Logger)
	// func-go logs every readiness probe at debug level; its warnings and
	// errors are what matter here.
	fhttp.SetLogLevel(fhttp.LogWarn)

	if traced {
		stopJaeger, err := startJaeger(ctx, &cfg, jaegerBin, st)
		if err != nil {
			return err
		}
		// Deferred first, so it runs last: after the system's spans went out.
		defer stopJaeger()
	}
	fmt.Fprintln(st.Out, "Starting Nova…")
	s, err := system.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if err := s.WriteKafkaClientEnv(filepath.Join(s.Root(), ".nova")); err != nil {
		fmt.Fprintf(st.Err, "warning: %v\n", err)
	}
	// Where this run serves, for the other nova commands; gone once it stops.
	defer writeRunEnv(s, cfg.RedisURL, st)()
	s.WriteStatus(st.Out)
	fmt.Fprintln(st.Out, "\nCtrl-C stops everything.")

	var runErr error
	select {
	case <-ctx.Done():
		fmt.Fprintln(st.Out, "\nStopping Nova…")
	case runErr = <-s.Errors():
		fmt.Fprintf(st.Out, "\nStopping Nova after a failure: %v\n", runErr)
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	fmt.Fprintf(st.Out, "Stopped cleanly in %s.\n", time.Since(start).Round(time.Millisecond))
	return runErr
}
