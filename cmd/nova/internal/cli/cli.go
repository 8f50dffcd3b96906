// Package cli is the nova command: run, env, send, tail, lag, dead-letters,
// replay, bench, release, pin, unpin, deploy-check, manifests and admin.
// main only hands it the process's arguments, streams and signals.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
)

// Streams are the command's standard streams.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

const usage = `nova: Nova's local runtime and tools

  nova run                      the whole system on this machine (make run)
  nova env                      where the running nova run serves, as exports: eval "$(nova env)"
  nova send TYPE [JSON]         produce a typed event to its topic (JSON from stdin when omitted)
  nova send --to URL TYPE JSON  POST it to a function as a binary-mode CloudEvent instead (without a
                                dispatcher's token: refused unless the function runs with NOVA_EVENT_AUTH=off)
  nova tail TOPIC               print events as they arrive, decoded to JSON
  nova lag [GROUP...]           consumer lag per group, topic and partition
  nova dead-letters             list dead-lettered events (--replay sends them again)
  nova replay                   send pending dead letters back to their topics (--dry-run lists them)
  nova bench                    producer load test (kafka-producer-perf-test flags) beside raw Sarama
  nova bench mixed              posts, likes, messages and feed reads on a running Nova; lag and drain
  nova release --version V      pin the functions to release V of the root module, commit, tag V, unpin
  nova pin --version V          point every function at release V of the root module (nova unpin undoes it)
  nova deploy-check             build every function as kn func would, then start and stop each binary
  nova manifests                validate what kubectl apply -k eventing/ (and each overlay) would send
  nova kafka                    the embedded Kafka on its own, with the catalogue's topics (-control: for tests)
  nova s3                       an S3 server in memory with one bucket, as deploy-check gives nova-api
  nova admin grant --user ID    give a user the admin role (revoke --user ID takes it back; list shows who holds it)

Every command takes -h for its flags. KAFKA_BROKERS, DATABASE_URL and
REDIS_URL set the defaults of the matching flags. The tools (send, tail,
lag, dead-letters, replay, bench, admin) otherwise talk to the running
nova run of this checkout (its .nova/env, which nova env prints; NOVA_ROOT
names another checkout), else to the built-in defaults, and say so.
`

// ErrUsage marks a command line that could not be understood; the usage has
// been printed.
var ErrUsage = errors.New("usage")

// Main runs the command line args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, st Streams) int {
	if len(args) == 0 {
		fmt.Fprint(st.Err, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		err = runCmd(ctx, rest, st)
	case "env":
		err = envCmd(ctx, rest, st)
	case "send":
		err = sendCmd(ctx, rest, st)
	case "tail":
		err = tailCmd(ctx, rest, st)
	case "lag":
		err = lagCmd(ctx, rest, st)
	case "dead-letters":
		err = deadLettersCmd(ctx, rest, st)
	case "replay":
		err = replayCmd(ctx, rest, st)
	case "bench":
		err = benchCmd(ctx, rest, st)
	case "release":
		err = releaseCmd(ctx, rest, st)
	case "pin":
		err = pinCmd(ctx, rest, st)
	case "unpin":
		err = unpinCmd(ctx, rest, st)
	case "deploy-check":
		err = deployCheckCmd(ctx, rest, st)
	case "manifests":
		err = manifestsCmd(ctx, rest, st)
	case "kafka":
		err = kafkaCmd(ctx, rest, st)
	case "s3":
		err = s3Cmd(ctx, rest, st)
	case "admin":
		err = adminCmd(ctx, rest, st)
	case "help", "-h", "--help":
		fmt.Fprint(st.Out, usage)
		return 0
	default:
		fmt.Fprintf(st.Err, "nova: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	default:
		fmt.Fprintf(st.Err, "nova %s: %v\n", args[0], err)
		return 1
	}
}

// envVar finds the environment variable a flag falls back to, named at the
// end of its usage: "Kafka to read [KAFKA_BROKERS]".
var envVar = regexp.MustCompile(`\[([A-Z][A-Z0-9_]*)\]$`)

// fromEnv sets each flag not given on the command line from the variable
// its usage names, parsed as the flag parses its argument: a bad value
// (NOVA_PORT_BASE=abc) is refused with its name, never taken as the default.
// lookup finds a variable's value and says where it was found ("" when
// nowhere): the environment, or for a tool also the running Nova's file.
func fromEnv(fs *flag.FlagSet, lookup func(key string) (value, from string)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		m := envVar.FindStringSubmatch(f.Usage)
		if m == nil || given[f.Name] {
			return
		}
		if v, from := lookup(m[1]); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("invalid value %q in %s%s for flag -%s: %w", v, m[1], from, f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// environment is fromEnv's lookup for commands that read only the
// process's environment.
func environment(key string) (string, string) { return os.Getenv(key), "" }

// newFlags returns a flag set whose errors and help go to st.Err.
func newFlags(name, synopsis string, st Streams) *flag.FlagSet {
	fs := flag.NewFlagSet("nova "+name, flag.ContinueOnError)
	fs.SetOutput(st.Err)
	fs.Usage = func() {
		fmt.Fprintf(st.Err, "usage: nova %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, allowing flags after positional arguments too
// (nova tail content-events --from-beginning).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	return parseWith(fs, args, environment)
}

// parseWith is parse with flags not given taken from lookup (fromEnv).
func parseWith(fs *flag.FlagSet, args []string, lookup func(string) (string, string)) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 || args[0] == "--" {
			if len(args) > 0 {
				pos = append(pos, args[1:]...)
			}
			if err := fromEnv(fs, lookup); err != nil {
				// As the flag package does for a bad argument: the
				// fault, then the usage.
				fmt.Fprintln(fs.Output(), err)
				fs.Usage()
				return nil, fmt.Errorf("%w: %w", ErrUsage, err)
			}
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
