package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/console"
	"github.com/nova-social/nova/cmd/nova/internal/dispatcher"
	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/replicas"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/mail"
	"github.com/nova-social/nova/shared/mail/sink"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/redisdb"
	"github.com/nova-social/nova/shared/telemetry"
)

// System is Nova running on this machine.
type System struct {
	cfg     Config
	log     *slog.Logger
	started time.Time
	ready   time.Duration

	broker    *broker.Broker
	manifests *manifests.Set
	kafka     broker.Config // as opened, for RestartKafka
	redisUser string        // the ACL user made for this run; "" if the environment named one
	redisPass string
	logins    *KafkaLogins // the embedded broker's users; nil without them
	clientEnv string       // the file with the superuser's login, for tools
	dataLock  *broker.DataLock
	dbBudget  DBBudget
	functions []*hosted
	sources   []source.KafkaSource
	brokers   []eventbroker.Broker
	triggers  []eventbroker.Trigger
	disp      *dispatcher.Dispatcher
	registry  *prometheus.Registry
	metrics   *http.Server
	metricsLn net.Listener
	console   *console.Console
	// issuer signs the dispatcher's tokens and serves the keys the
	// functions verify them with.
	issuer *LocalIssuer
	// mail is the local mail relay; nil when SMTP_ADDR names another.
	mail *sink.Sink

	// The Kafka Broker ingress, when the manifests hold Brokers.
	ingress         *http.Server
	ingressLn       net.Listener
	ingressProducer *kafka.Producer
	store           eventbroker.Store

	// tracing is the dispatcher's: it stands in for Knative's, whose spans
	// join the same traces in a cluster.
	tracing *telemetry.Providers

	stopDispatch context.CancelFunc
	dispatchDone chan struct{}

	errs     chan error
	stopOnce sync.Once
	stopErr  error

	// mu guards the parts a fault test replaces while the system runs: the
	// embedded broker and each hosted function's instance.
	mu sync.Mutex
}

// hosted is one function: its instances and, with more than one, the
// balancer in front of them.
type hosted struct {
	name      string
	instances []*replica
	lb        *replicas.Balancer // nil for a single instance
	invoke    string
	dir       string
	// opts and newInstance serve an instance again after StopFunction.
	opts        funchost.Options
	newInstance func() any
}

// replica is one instance of a function.
type replica struct {
	fn      *funchost.Function
	stopped bool
}

// url is where the function's callers reach it.
func (h *hosted) url() string {
	if h.lb != nil {
		return h.lb.URL()
	}
	return h.instances[0].fn.URL()
}

// Start brings the system up and returns once every function reports ready
// and the dispatcher runs. On failure whatever was started is stopped again.
func Start(ctx context.Context, cfg Config) (s *System, err error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s = &System{cfg: cfg, log: cfg.Logger, started: time.Now(), errs: make(chan error, 16)}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.StopTimeout)
			defer cancel()
			_ = s.Stop(sctx)
			s = nil
		}
	}()

	// The embedded Kafka's data folder is this run's alone, or nothing is
	// touched: a second run in the same checkout would rewrite it.
	if len(cfg.Kafka.Brokers) == 0 && !cfg.Kafka.InMemory {
		if s.dataLock, err = broker.LockDataDir(cfg.Kafka.DataDir); err != nil {
			return s, err
		}
	}

	// Read the manifests first: a malformed KafkaSource, Broker, Trigger or
	// func.yaml should fail before anything listens. They are what kubectl
	// apply -k would apply: the kustomization built, not the folder's files.
	m, err := manifests.Load(cfg.Eventing)
	if err != nil {
		return s, err
	}
	configMaps := m.ConfigMaps
	if cfg.EventAuthOff {
		configMaps = withEventAuthOff(configMaps)
		s.log.Warn("event functions admit every sender (--event-auth=off): any local process may post events to them")
	}
	s.sources, s.brokers, s.triggers = m.Sources, m.Brokers, m.Triggers
	s.manifests = m
	specs := make([]*funchost.FuncYAML, len(cfg.Functions))
	for i, f := range cfg.Functions {
		if specs[i], err = funchost.LoadFuncYAML(filepath.Join(cfg.Root, f.Dir)); err != nil {
			return s, err
		}
		if specs[i].Name != f.Name {
			return s, fmt.Errorf("%s/func.yaml names the function %s, registered as %s", f.Dir, specs[i].Name, f.Name)
		}
	}

	// Every fixed port at once, before anything listens: one answer
	// naming each taken port, who holds it and how to move it.
	if err := checkPorts(wantedPorts(cfg, m)); err != nil {
		return s, err
	}
	fns := make([]funcSpec, len(cfg.Functions))
	for i, f := range cfg.Functions {
		fns[i] = funcSpec{name: f.Name, spec: specs[i], replicas: cfg.Replicas[f.Name]}
	}
	if s.dbBudget, err = planDatabase(cfg.DatabaseURL, fns, cfg.DBPools); err != nil {
		return s, err
	}

	// Stores. This connection is the run's own, for the migrations and the
	// server's limits; the functions open theirs.
	pool, err := OpenDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return s, err
	}
	err = outbox.Migrate(ctx, pool)
	if err != nil {
		err = fmt.Errorf("outbox migrations: %w", err)
	} else {
		err = checkServer(ctx, pool, &s.dbBudget)
	}
	pool.Close()
	if err != nil {
		return s, err
	}
	if free := s.dbBudget.MaxConnections - s.dbBudget.Reserved - s.dbBudget.InUse; s.dbBudget.Total() > free {
		s.log.Warn("other clients hold PostgreSQL connections this run may need at its busiest",
			"budget", s.dbBudget.Total(), "held_by_others", s.dbBudget.InUse, "max_connections", s.dbBudget.MaxConnections)
	}
	if err := PingRedis(ctx, cfg.RedisURL); err != nil {
		return s, err
	}

	// Kafka: the embedded broker demands what a cluster does (TLS, a
	// SCRAM login per function, the KafkaUsers' ACLs) unless told not to.
	kcfg := cfg.Kafka
	if kcfg.Logger == nil {
		kcfg.Logger = cfg.Logger
	}
	var secrets map[string]map[string]string
	switch {
	case len(kcfg.Brokers) > 0:
		// An existing cluster: Nova's own clients log in as KAFKA_TLS*
		// and KAFKA_SASL_* of the environment say.
		if kcfg.Security == (kafka.Security{}) {
			environ := cfg.Environ
			if environ == nil {
				environ = funchost.Environ()
			}
			kcfg.Security = kafka.SecurityFromEnv(environ)
		}
		secrets = unmanagedLogins(m, kcfg.Security)
	case cfg.KafkaNoAuth:
		s.log.Warn("the embedded Kafka runs without TLS, logins or ACLs (--kafka-no-auth): any local process may read and write every topic")
		secrets = unmanagedLogins(m, kafka.Security{})
	default:
		if s.logins, err = NewKafkaLogins(m.KafkaUsers, m.Secrets); err != nil {
			return s, err
		}
		kcfg.Auth, kcfg.Security, secrets = s.logins.Auth, s.logins.Admin, s.logins.Secrets
	}
	// The Brokers' topics, as the Kafka Broker's controller makes them.
	kcfg.Topics = append(append([]broker.Topic(nil), kcfg.Topics...), brokerTopics(s.brokers)...)
	if s.broker, err = broker.Open(ctx, kcfg); err != nil {
		return s, err
	}
	s.kafka = kcfg
	brokers := s.broker.Addrs()

	// Functions, all at once: each waits for its own readiness.
	env := cfg.Environ
	if env == nil {
		env = funchost.Environ()
	}
	env = copyMap(env)
	env["KAFKA_BROKERS"] = strings.Join(brokers, ",")
	if s.logins != nil {
		for k, v := range s.logins.Env {
			env[k] = v
		}
	} else if cfg.KafkaNoAuth {
		// nova-config's cluster settings switched off, as the broker is.
		env[kafka.EnvTLS], env[kafka.EnvSASLMech] = "false", ""
	}
	env["DATABASE_URL"] = cfg.DatabaseURL
	if env[redisdb.EnvUsername] == "" {
		// The functions log in as a cluster's Redis would have them: an ACL
		// user with Nova's rights only, made for this run.
		if s.redisUser, env[redisdb.EnvPassword], err = newRedisUser(ctx, cfg.RedisURL); err != nil {
			return s, err
		}
		env[redisdb.EnvUsername] = s.redisUser
		s.redisPass = env[redisdb.EnvPassword]
	}
	// Never the login RedisURL may carry (the administrator's, who made
	// the functions' user): they log in as their user only.
	env["REDIS_URL"] = redisAddress(cfg.RedisURL)
	if env["MEDIA_DIR"] == "" {
		// Uploads stay under the repository's git-ignored .nova/, wherever
		// nova run was started from.
		env["MEDIA_DIR"] = filepath.Join(cfg.Root, ".nova", "media")
	}
	if env[auth.EnvPrivateKey] == "" && env[auth.EnvPrivateKeyFile] == "" {
		// No signing key given: a development key kept under .nova/, the
		// same on every run so issued tokens stay valid across restarts.
		k, err := auth.DevKey(filepath.Join(cfg.Root, ".nova", "jwt"))
		if err != nil {
			return s, fmt.Errorf("development JWT key: %w", err)
		}
		pem, err := k.MarshalPrivatePEM()
		if err != nil {
			return s, fmt.Errorf("development JWT key: %w", err)
		}
		env[auth.EnvPrivateKey] = string(pem)
	}
	// The cluster's OIDC issuer, local: functions verify the dispatcher's
	// tokens against it exactly as against the API server in a cluster.
	if s.issuer, err = StartIssuer(cfg.Host); err != nil {
		return s, err
	}
	env[sender.EnvDiscoveryURL] = s.issuer.URL()
	if env[mail.EnvAddr] == "" {
		// No mail relay named: a local one, with a login made for this
		// run, that keeps every message in cfg.MailDir (.nova/mail).
		pw, err := randomPassword()
		if err != nil {
			return s, err
		}
		if s.mail, err = sink.Start(sink.Config{Addr: net.JoinHostPort(cfg.Host, "0"), Username: "nova-run", Password: pw,
			Dir: cfg.MailDir, Logger: s.log}); err != nil {
			return s, err
		}
		maps.Copy(env, s.mail.Env())
	}
	if env[sender.EnvNamespace] == "" {
		// The functions run in the namespace of the objects that send to
		// them, as kubectl apply -k puts them all in one.
		env[sender.EnvNamespace] = namespaceOf(m)
	}
	if err := localSettings(env); err != nil {
		return s, err
	}
	// One registry for the dispatcher and the functions, served on the
	// metrics address.
	s.registry = prometheus.NewRegistry()
	fnMetrics, err := funchost.NewMetrics(s.registry)
	if err != nil {
		return s, err
	}
	s.functions = make([]*hosted, len(cfg.Functions))
	// nova-api first: the others may need its address (realtime-gateway
	// fetches the public keys from its JWKS, as in a cluster). Then the rest
	// at once, each waiting for its own readiness.
	for _, first := range []bool{true, false} {
		resolver := funchost.Resolver{ConfigMaps: configMaps, Env: env, Secrets: secrets}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for i, f := range cfg.Functions {
			if (f.Name == APIName) != first {
				continue
			}
			fcfg, err := resolver.Config(specs[i])
			if err != nil {
				return s, err
			}
			if u, ok := s.dbBudget.URLs[f.Name]; ok {
				fcfg[postgres.EnvURL] = u
			}
			addr := net.JoinHostPort(cfg.Host, "0")
			if cfg.PortBase > 0 {
				addr = net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.PortBase+f.Slot))
			}
			var mw func(http.Handler) http.Handler
			if cfg.Middleware != nil {
				mw = func(next http.Handler) http.Handler { return cfg.Middleware(f.Name, next) }
			}
			wg.Go(func() {
				opts := funchost.Options{
					Name: f.Name, Invoke: specs[i].InvokeKind(), Addr: addr,
					Config: fcfg, ReadyTimeout: cfg.ReadyTimeout, Logger: cfg.Logger, Metrics: fnMetrics,
					Middleware: mw,
				}
				h, err := serveHosted(ctx, opts, f.New, max(cfg.Replicas[f.Name], 1))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				h.invoke, h.dir = specs[i].InvokeKind(), f.Dir
				s.functions[i] = h
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return s, err
		}
		for _, h := range s.functions {
			if first && h != nil && h.name == APIName {
				// realtime-gateway's keys and membership questions go to
				// this nova-api, unless the environment names another.
				if _, set := env[auth.EnvJWKSURL]; !set {
					env[auth.EnvJWKSURL] = h.url() + "/v1/.well-known/jwks.json"
				}
				if _, set := env["NOVA_API_URL"]; !set {
					env["NOVA_API_URL"] = h.url()
				}
			}
		}
	}
	for _, h := range s.functions {
		for _, in := range h.instances {
			s.watch(in.fn)
		}
	}

	// The Brokers' ingress, then the dispatcher, last: every sink is ready
	// by now.
	res := resolver{functions: dispatcher.MapResolver{}, brokers: map[string]bool{}}
	for _, h := range s.functions {
		res.functions[h.name] = h.url()
	}
	brokerSec := kcfg.Security
	if len(s.brokers) > 0 {
		if brokerSec, err = s.brokerSecurity(); err != nil {
			return s, err
		}
		if err := s.serveIngress(brokers, brokerSec); err != nil {
			return s, err
		}
		res.ingress = s.IngressURL()
		for _, b := range s.brokers {
			res.brokers[b.Ref()] = true
		}
	}
	if s.tracing, err = telemetry.FromEnv(env, DispatcherService); err != nil {
		return s, err
	}
	dcfg := dispatcher.Config{Brokers: brokers, Logger: cfg.Logger, Registry: s.registry,
		BrokerSecurity: brokerSec, Tokens: s.issuer.Tokens}
	if s.tracing.Tracing() {
		dcfg.Tracer = s.tracing.TracerProvider()
	}
	srcs := s.sources
	switch {
	case s.logins != nil:
		dcfg.Secrets = func(_ string, ref source.SecretKeyRef) (string, error) { return s.logins.Secret(ref.Name, ref.Key) }
	case cfg.KafkaNoAuth:
		// The broker takes no logins: the sources connect without theirs.
		srcs = make([]source.KafkaSource, len(s.sources))
		for i, src := range s.sources {
			src.Net = source.Net{}
			srcs[i] = src
		}
	default:
		// An existing cluster: a source's Secret keys are read, as the
		// functions' are locally, from the environment variables of their
		// names.
		dcfg.Secrets = func(_ string, ref source.SecretKeyRef) (string, error) {
			if v, ok := env[ref.Key]; ok {
				return v, nil
			}
			return "", fmt.Errorf("set environment variable %s (Secret %s key %s)", ref.Key, ref.Name, ref.Key)
		}
	}
	if s.disp, err = dispatcher.NewWithTriggers(ctx, dcfg, srcs, s.dispatcherTriggers(), res); err != nil {
		return s, err
	}
	if s.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
		return s, fmt.Errorf("metrics: listen on %s: %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.disp.Handler())
	// The same limits as every function's server: a scraper needs none
	// of a slow client's allowances.
	if s.metrics, err = httpapi.NewServer(httpapi.ServerConfig{Addr: cfg.MetricsAddr, ReadHeaderTimeout: 2 * time.Second}, mux, cfg.Logger); err != nil {
		return s, err
	}
	go func() {
		if err := s.metrics.Serve(s.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("metrics server: %w", err))
		}
	}()
	if err := s.startConsole(ctx); err != nil {
		return s, err
	}
	dctx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	s.stopDispatch, s.dispatchDone = stopDispatch, make(chan struct{})
	go func() {
		defer close(s.dispatchDone)
		if err := s.disp.Run(dctx); err != nil {
			s.fail(fmt.Errorf("dispatcher: %w", err))
		}
	}()

	s.ready = time.Since(s.started)
	return s, nil
}

// namespaceOf is the namespace of the manifests' senders (the
// KafkaSources and Triggers), the default one when they name none.
func namespaceOf(m *manifests.Set) string {
	for _, s := range m.Sources {
		return s.Namespace
	}
	for _, t := range m.Triggers {
		return t.Namespace
	}
	return source.DefaultNamespace
}

// MailDir is where the local mail relay of nova run keeps the mail, a
// folder per recipient (sink.ReadDir reads it).
func MailDir(root string) string { return filepath.Join(root, ".nova", "mail") }

// Mail is the local mail relay, or nil when the environment named one
// (SMTP_ADDR).
func (s *System) Mail() *sink.Sink { return s.mail }

// MailDir is the folder the local mail relay keeps the mail in.
func (s *System) MailDir() string { return s.cfg.MailDir }

// APIName is nova-api's function name.
const APIName = "nova-api"

// s3Settings are nova-config's keys for the media store in S3 (and the
// nova-s3 Secret's), which name cluster services.
var s3Settings = []string{"S3_ENDPOINT", "S3_BUCKET", "S3_REGION", "S3_USE_SSL", "S3_ACCESS_KEY", "S3_SECRET_KEY"}

// localSettings fills in what this machine's run takes in place of the
// cluster's ConfigMap values and Secrets, unless the environment gives
// them: no database password (the local server trusts), media in
// MEDIA_DIR rather than the cluster's S3 (S3 settings come from the
// environment only), and a media URL key made for the run, as the
// cluster's nova-media Secret is made once: every nova-api replica signs
// and checks with the same one.
func localSettings(env map[string]string) error {
	for _, k := range append([]string{"PGPASSWORD"}, s3Settings...) {
		if _, set := env[k]; !set {
			env[k] = ""
		}
	}
	if env[mediaURLKeyEnv] == "" {
		key, err := randomKey()
		if err != nil {
			return fmt.Errorf("system: make the run's %s: %w", mediaURLKeyEnv, err)
		}
		env[mediaURLKeyEnv] = key
	}
	return nil
}

// mediaURLKeyEnv is the nova-media Secret's key that signs private media
// URLs.
const mediaURLKeyEnv = "MEDIA_URL_SECRET"

func (s *System) fail(err error) {
	select {
	case s.errs <- err:
	default: // one is enough to stop on
	}
}

// Errors delivers failures after start-up (a function's Start hook failing,
// the dispatcher unable to connect). nova run stops on the first.
func (s *System) Errors() <-chan error { return s.errs }

// Brokers are the Kafka bootstrap addresses.
func (s *System) Brokers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broker.Addrs()
}

// WriteKafkaClientEnv writes the embedded broker's superuser login to
// dir (KafkaLogins.WriteClientEnv) for Nova's tools, and WriteStatus says
// where; nothing is written without logins.
func (s *System) WriteKafkaClientEnv(dir string) error {
	if s.logins == nil {
		return nil
	}
	f, err := s.logins.WriteClientEnv(dir)
	if err != nil {
		return fmt.Errorf("kafka: write the tools' login: %w", err)
	}
	s.mu.Lock()
	s.clientEnv = f
	s.mu.Unlock()
	return nil
}

// Root is the repository the system runs.
func (s *System) Root() string { return s.cfg.Root }

// RedisLogin is the ACL user the run made for its functions and its
// password; empty when the environment named the user.
func (s *System) RedisLogin() (user, password string) { return s.redisUser, s.redisPass }

// KafkaSecret is a key of the Secrets the run made for the embedded
// Kafka's users (a KafkaUser's password: Secret <user>, key password), as
// Strimzi would have made them; an error when the run has no logins.
func (s *System) KafkaSecret(name, key string) (string, error) {
	if s.logins == nil {
		return "", errors.New("this run's Kafka takes no logins")
	}
	return s.logins.Secret(name, key)
}

// KafkaSecurity is how Nova's own clients (tools, tests) log in to Kafka.
func (s *System) KafkaSecurity() kafka.Security {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broker.Security()
}

// DatabaseURL is the database the system uses.
func (s *System) DatabaseURL() string { return s.cfg.DatabaseURL }

// FunctionURL is the base URL of a hosted function.
func (s *System) FunctionURL(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.functions {
		if h != nil && h.name == name {
			return h.url(), true
		}
	}
	return "", false
}

// MetricsURL is where Prometheus scrapes the dispatcher.
func (s *System) MetricsURL() string { return "http://" + s.metricsLn.Addr().String() + "/metrics" }

// Issuer is the run's stand-in for the cluster's OIDC issuer.
func (s *System) Issuer() *LocalIssuer { return s.issuer }

// Dispatcher is the running dispatcher, for lag.
func (s *System) Dispatcher() *dispatcher.Dispatcher { return s.disp }

// ReadyAfter is how long Start took.
func (s *System) ReadyAfter() time.Duration { return s.ready }

// WriteStatus prints the components and their addresses as a table.
func (s *System) WriteStatus(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(w, "Nova is up (ready in %s)\n\n", s.ready.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  COMPONENT\tADDRESS\tDETAILS")
	kafkaNote := "external cluster, catalogue topics checked"
	if s.broker.Embedded() {
		kafkaNote = "embedded, data in " + s.relPath(s.broker.DataDir())
	}
	if c := s.broker.CreatedTopics(); len(c) > 0 {
		kafkaNote += fmt.Sprintf(", created %d topics", len(c))
	}
	if s.logins != nil {
		kafkaNote += fmt.Sprintf(", TLS, SCRAM logins and the ACLs of %d KafkaUsers", len(s.logins.Auth.Users))
		if s.clientEnv != "" {
			kafkaNote += "; tools log in with: set -a; . " + s.relPath(s.clientEnv) + "; set +a"
		}
	}
	fmt.Fprintf(tw, "  kafka\t%s\t%s\n", strings.Join(s.broker.Addrs(), ","), kafkaNote)
	fmt.Fprintf(tw, "  postgres\t%s\tmigrations applied\n", redact(s.cfg.DatabaseURL))
	fmt.Fprintf(tw, "  redis\t%s\t\n", redisAddress(s.cfg.RedisURL))
	if s.mail != nil {
		fmt.Fprintf(tw, "  mail\t%s\tlocal relay; sign-up codes kept in %s\n", s.mail.Addr(), s.cfg.MailDir)
	}
	for _, h := range s.functions {
		what := h.invoke + " function"
		if len(h.instances) > 1 {
			what = fmt.Sprintf("%s function, %d replicas round-robin", h.invoke, len(h.instances))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s, %s\n", h.name, h.url(), what, h.dir)
	}
	fmt.Fprintf(tw, "  outbox relay\t-\tin nova-api, publishing to Kafka\n")
	refs := make([]string, 0, len(s.sources))
	for _, src := range s.sources {
		refs = append(refs, src.Name)
	}
	sort.Strings(refs)
	srcNote := "no KafkaSources in " + s.relPath(s.cfg.Eventing)
	if len(refs) > 0 {
		srcNote = fmt.Sprintf("%d KafkaSources: %s", len(refs), strings.Join(refs, ", "))
	}
	if len(s.triggers) > 0 {
		names := make([]string, 0, len(s.triggers))
		for _, t := range s.triggers {
			names = append(names, t.Name)
		}
		sort.Strings(names)
		srcNote += fmt.Sprintf("; %d Triggers: %s", len(names), strings.Join(names, ", "))
	}
	fmt.Fprintf(tw, "  dispatcher\t%s\t%s\n", s.MetricsURL(), srcNote)
	if s.console != nil {
		fmt.Fprintf(tw, "  console\t%s\tthe event flow live, latest events, dead letters and replay\n", s.console.URL())
	}
	for _, b := range s.brokers {
		fmt.Fprintf(tw, "  broker %s\t%s\tKafka Broker ingress, topic %s\n", b.Ref(), s.IngressURL()+b.Path(), b.Topic())
	}
	_ = tw.Flush()
	if len(s.dbBudget.Functions) > 0 {
		fmt.Fprintf(w, "\n%s; pool sizes: --db-pools or NOVA_DB_POOLS\n", s.dbBudget)
	}
}

func (s *System) relPath(p string) string {
	if r, err := filepath.Rel(s.cfg.Root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// Stop shuts down in dependency order: the dispatcher first (no event is
// half-delivered to a function that is going away; what is done is
// committed), then the Brokers' ingress and its producer, then the
// functions (draining their requests; nova-api stops its outbox relay), then
// Kafka (writing its state to disk). Safe to call more than once.
func (s *System) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		var errs []error
		// The console first: no replay starts while the rest stops.
		if s.console != nil {
			errs = append(errs, s.console.Close(ctx))
		}
		if s.stopDispatch != nil {
			s.stopDispatch()
			if err := wait(ctx, s.dispatchDone); err != nil {
				errs = append(errs, fmt.Errorf("dispatcher: %w", err))
			}
		}
		// The Brokers' ingress next: nothing posts to it any more.
		if s.ingress != nil {
			errs = append(errs, s.ingress.Shutdown(ctx))
		} else if s.ingressLn != nil {
			errs = append(errs, s.ingressLn.Close())
		}
		if s.ingressProducer != nil {
			errs = append(errs, s.ingressProducer.Close())
		}
		if s.metrics != nil {
			errs = append(errs, s.metrics.Shutdown(ctx))
		} else if s.metricsLn != nil {
			errs = append(errs, s.metricsLn.Close())
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, h := range s.functions {
			if h == nil {
				continue
			}
			wg.Go(func() {
				err := h.stop(ctx)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			})
		}
		wg.Wait()
		if s.tracing != nil {
			// After the functions: the dispatcher's last spans go out
			// with theirs.
			errs = append(errs, s.tracing.Shutdown(ctx))
		}
		if s.issuer != nil {
			errs = append(errs, s.issuer.Close(ctx))
		}
		if s.mail != nil {
			errs = append(errs, s.mail.Close())
		}
		if s.broker != nil {
			s.broker.Close()
		}
		if s.redisUser != "" {
			errs = append(errs, DeleteRedisUser(ctx, s.cfg.RedisURL, s.redisUser))
		}
		// Last: the data folder is free once the broker has written it out.
		errs = append(errs, s.dataLock.Close())
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

func wait(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// novaConfig is the ConfigMap every func.yaml reads its settings from.
const novaConfig = "nova-config"

// withEventAuthOff returns configMaps with nova-config's NOVA_EVENT_AUTH
// set to off, the value every function's func.yaml reads it from.
func withEventAuthOff(configMaps map[string]map[string]string) map[string]map[string]string {
	out := make(map[string]map[string]string, len(configMaps))
	for name, data := range configMaps {
		out[name] = data
	}
	cfg := copyMap(out[novaConfig])
	cfg[sender.EnvAuth] = string(sender.ModeOff)
	out[novaConfig] = cfg
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+3)
	for k, v := range m {
		out[k] = v
	}
	return out
}
