package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/deadletters"
	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/cmd/nova/internal/registry"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/event/kafka"
)

// runningNova ends the usage of a flag whose variable the running Nova's
// file gives too.
const runningNova = " (unset: the running Nova's, from .nova/env)"

// rootVar overrides where the nova commands look for the checkout (and so
// its .nova/env), as it does for nova run's --root.
const rootVar = "NOVA_ROOT"

// running is what a tool found of a running nova run.
type running struct {
	path string         // the file looked for; "" when no checkout was found
	file *instance.File // the file of a run still running, else nil
	// why says, when file is nil, why no running Nova was found.
	why string
}

// findRunning looks for the file of a running nova run: in the checkout
// NOVA_ROOT names, else in the one above the working directory, as nova run
// finds its root.
func findRunning() running {
	root := os.Getenv(rootVar)
	if root == "" {
		var err error
		if root, err = findRoot(""); err != nil {
			return running{why: "no running Nova found (not inside a Nova checkout, and " + rootVar + " is not set)"}
		}
	}
	path := instance.Path(root)
	f, err := instance.Read(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return running{path: path, why: fmt.Sprintf("no running Nova found (no %s: make run starts one)", path)}
	case err != nil:
		return running{path: path, why: fmt.Sprintf("no running Nova found (%v)", err)}
	case !f.Live():
		return running{path: path, why: fmt.Sprintf("no running Nova found (%s is left from nova run pid %d, which has stopped)", path, f.PID)}
	}
	return running{path: path, file: f}
}

// kafkaLogin are the variables of a Kafka login. The file's apply only
// with the file's brokers: the run's login is for its own Kafka, and
// brokers named elsewhere get no password they were not given.
var kafkaLogin = map[string]bool{
	kafka.EnvTLS: true, kafka.EnvTLSCACert: true, kafka.EnvTLSCAFile: true,
	kafka.EnvTLSCert: true, kafka.EnvTLSCertFile: true, kafka.EnvTLSKey: true, kafka.EnvTLSKeyFile: true,
	kafka.EnvSASLMech: true, kafka.EnvSASLUsername: true, kafka.EnvSASLPassword: true,
}

// addresses are the variables whose built-in default points at some Nova
// on this machine, maybe not the one meant: falling back to one is said.
var addresses = map[string]bool{instance.KafkaBrokers: true, instance.DatabaseURL: true, instance.API: true}

// tool is the flag set of a command that talks to a running Nova (send,
// tail, lag, dead-letters, replay, bench, admin). A flag not given takes
// its variable from the environment, else from the running Nova's
// .nova/env, else its built-in default; falling back to a default address
// because no running Nova was found is said on stderr.
type tool struct {
	*flag.FlagSet
	name string
	st   Streams
	run  *running
	// kafkaFromFile: the brokers come from the file, so its login may too.
	kafkaFromFile bool
	fromFile      map[string]bool
	// used says, once the flags are parsed, whether a flag matters to
	// what the command was asked (--kafka-brokers does not to a listing).
	used map[string]func() bool
}

func newTool(name, synopsis string, st Streams) *tool {
	return &tool{FlagSet: newFlags(name, synopsis, st), name: name, st: st,
		fromFile: map[string]bool{}, used: map[string]func() bool{}}
}

// usedIf says that flag name matters only when used answers true, so
// falling back to its default is not worth a word otherwise.
func (t *tool) usedIf(name string, used func() bool) { t.used[name] = used }

// parse parses args as parse does, with the file as a source of values.
func (t *tool) parse(args []string) ([]string, error) {
	pos, err := parseWith(t.FlagSet, args, t.lookup)
	if err != nil {
		return nil, err
	}
	t.noteDefaults()
	return pos, nil
}

// getenv is a variable as the tool sees it, for settings without a flag
// (KAFKA_SASL_PASSWORD).
func (t *tool) getenv(key string) string {
	v, _ := t.lookup(key)
	return v
}

func (t *tool) lookup(key string) (string, string) {
	if v := os.Getenv(key); v != "" {
		return v, ""
	}
	if t.run == nil {
		// The first lookup comes before fromEnv has set any flag, so the
		// flags set now are the command line's.
		r := findRunning()
		t.run = &r
		t.kafkaFromFile = t.brokersFromFile()
	}
	if t.run.file == nil {
		return "", ""
	}
	if kafkaLogin[key] && !t.kafkaFromFile {
		return "", ""
	}
	v, _ := t.run.file.Get(key)
	if v == "" {
		return "", ""
	}
	t.fromFile[key] = true
	return v, " (from " + t.run.path + ")"
}

// consumerNames are the functions of the running Nova by address
// (NOVA_FUNCTION_URLS, from the environment or the file), to name who
// failed a dead letter; nil when no running Nova says.
func (t *tool) consumerNames() Names {
	v, _ := t.lookup(instance.FunctionURLs)
	if v == "" {
		return nil
	}
	return deadletters.NamesOf(v)
}

// brokersFromFile reports whether the Kafka addresses will be the file's:
// neither the command line nor a variable names them.
func (t *tool) brokersFromFile() bool {
	if t.run.file == nil || os.Getenv(instance.KafkaBrokers) != "" {
		return false
	}
	if _, ok := t.run.file.Get(instance.KafkaBrokers); !ok {
		return false
	}
	from := true
	t.Visit(func(f *flag.Flag) {
		if m := envVar.FindStringSubmatch(f.Usage); m != nil && m[1] == instance.KafkaBrokers {
			from = false
		}
	})
	return from
}

// noteDefaults says on stderr which addresses are built-in defaults
// because no running Nova said otherwise.
func (t *tool) noteDefaults() {
	given := map[string]bool{}
	t.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var used []string
	t.VisitAll(func(f *flag.Flag) {
		m := envVar.FindStringSubmatch(f.Usage)
		if m == nil || !addresses[m[1]] || given[f.Name] || os.Getenv(m[1]) != "" || t.fromFile[m[1]] ||
			f.DefValue == "" || f.Value.String() != f.DefValue {
			return
		}
		if used, ok := t.used[f.Name]; ok && !used() {
			return
		}
		used = append(used, fmt.Sprintf("--%s %s", f.Name, f.DefValue))
	})
	if len(used) == 0 {
		return
	}
	why := "no running Nova found"
	switch {
	case t.run == nil:
	case t.run.file != nil:
		why = t.run.path + " of the running Nova does not name them"
	default:
		why = t.run.why
	}
	fmt.Fprintf(t.st.Err, "nova %s: %s: using the built-in default %s\n", t.name, why, strings.Join(used, ", "))
}

// envCmd is nova env: the running Nova's addresses as exports, for
// eval "$(nova env)".
func envCmd(_ context.Context, args []string, st Streams) error {
	fs := newFlags("env", "   (eval \"$(nova env)\" sets KAFKA_BROKERS, DATABASE_URL, … of the running nova run)", st)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return ErrUsage
	}
	r := findRunning()
	if r.file == nil {
		return errors.New(r.why)
	}
	fmt.Fprintf(st.Out, "# the nova run of %s (pid %d)\n", r.path, r.file.PID)
	keys := make([]string, 0, len(r.file.Vars))
	for _, v := range r.file.Vars {
		fmt.Fprintf(st.Out, "export %s=%s\n", v.Key, instance.Quote(v.Value))
		keys = append(keys, v.Key)
	}
	// Left set, KAFKA_BROKERS makes the next nova run use this run's
	// (then stopped) Kafka as an external cluster.
	fmt.Fprintf(st.Out, "# before the next nova run: unset %s\n", strings.Join(keys, " "))
	return nil
}

// writeRunEnv writes where s serves to its checkout's .nova/env for the
// other nova commands, and returns what removes it again; a failure to
// write is a warning, since the system runs either way.
func writeRunEnv(s *system.System, redisURL string, st Streams) (remove func()) {
	path := instance.Path(s.Root())
	vars, err := runEnv(s, redisURL)
	if err == nil {
		err = instance.Write(path, os.Getpid(), vars)
	}
	if err != nil {
		fmt.Fprintf(st.Err, "warning: the other nova commands will not find this run: %v\n", err)
		return func() {}
	}
	return func() {
		if err := instance.Remove(path, os.Getpid()); err != nil {
			fmt.Fprintf(st.Err, "warning: %v\n", err)
		}
	}
}

// runEnv is what the tools need of s. Its Kafka login is written only when
// it is the run's own superuser, made for this run on this machine; of any
// other login only the settings are, never its password or keys.
func runEnv(s *system.System, redisURL string) ([]instance.Var, error) {
	vars := []instance.Var{{Key: instance.KafkaBrokers, Value: strings.Join(s.Brokers(), ",")}}
	sec := s.KafkaSecurity()
	if _, err := s.KafkaSecret(system.ClusterCASecret, system.ClusterCAKey); err == nil && sec.CAPEM != "" {
		ca := filepath.Join(instance.Dir(s.Root()), "kafka-ca.crt")
		if err := os.MkdirAll(filepath.Dir(ca), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(ca, []byte(sec.CAPEM), 0o600); err != nil {
			return nil, err
		}
		sec.CAPEM, sec.CAFile = "", ca
	} else {
		sec.Password, sec.CAPEM, sec.CertPEM, sec.KeyPEM = "", "", "", ""
	}
	env := sec.Env()
	for _, k := range []string{kafka.EnvTLS, kafka.EnvTLSCAFile, kafka.EnvTLSCertFile, kafka.EnvTLSKeyFile,
		kafka.EnvSASLMech, kafka.EnvSASLUsername, kafka.EnvSASLPassword} {
		if v := env[k]; v != "" {
			vars = append(vars, instance.Var{Key: k, Value: v})
		}
	}
	vars = append(vars,
		instance.Var{Key: instance.DatabaseURL, Value: withoutPassword(s.DatabaseURL())},
		instance.Var{Key: instance.RedisURL, Value: withoutPassword(redisURL)})
	if u, ok := s.FunctionURL(system.APIName); ok {
		vars = append(vars, instance.Var{Key: instance.API, Value: u})
	}
	if u, ok := s.FunctionURL("realtime-gateway"); ok {
		vars = append(vars, instance.Var{Key: instance.Realtime, Value: u})
	}
	if s.Mail() != nil {
		vars = append(vars, instance.Var{Key: instance.MailDir, Value: s.MailDir()})
	}
	vars = append(vars, instance.Var{Key: instance.MetricsURL, Value: s.MetricsURL()})
	if u := s.ConsoleURL(); u != "" {
		vars = append(vars, instance.Var{Key: instance.ConsoleURL, Value: u})
	}
	if fns := hostedFunctions(s); len(fns) > 0 {
		vars = append(vars, instance.Var{Key: instance.FunctionURLs, Value: instance.FormatFunctionURLs(fns)})
	}
	return vars, nil
}

// hostedFunctions are the functions s hosts with their addresses, in the
// registry's order.
func hostedFunctions(s *system.System) []instance.Function {
	var out []instance.Function
	for _, f := range registry.Functions() {
		if u, ok := s.FunctionURL(f.Name); ok {
			out = append(out, instance.Function{Name: f.Name, URL: u})
		}
	}
	return out
}

var dsnPassword = regexp.MustCompile(`(^|\s)password=('(\\.|[^'])*'|\S*)`)

// withoutPassword is a connection URL (or a key=value DSN) without its
// password: a reader takes it from PGPASSWORD or its own setting.
func withoutPassword(dsn string) string {
	if !strings.Contains(dsn, "://") {
		return strings.TrimSpace(dsnPassword.ReplaceAllString(dsn, "$1"))
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
