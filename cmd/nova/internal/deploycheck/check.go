package deploycheck

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/objectstore"
	"github.com/nova-social/nova/cmd/nova/internal/release"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/cmd/nova/internal/system"
)

// Function is one function's outcome.
type Function struct {
	Name string
	// Dir is the function's folder relative to the root ("." for nova-api).
	Dir string
	// Build is how long Context, Pin, Scaffold and Build took; Size the
	// binary's.
	Build time.Duration
	Size  int64
	// Waiting is how long it took, started with the manifests' own
	// (cluster) addresses, none of which answer here, to answer liveness
	// 200 and readiness with the reason it is not ready: a function that
	// waits for its dependencies instead of crash-looping.
	Waiting time.Duration
	// Ready is how long it took to answer 200 on both health endpoints,
	// Stop how long it took to exit after SIGTERM.
	Ready, Stop time.Duration
	// Err is why it failed, nil when it passed.
	Err error

	yaml *funchost.FuncYAML
	bin  string
	ctx  string
	proc *process
}

// Report is the outcome of a check.
type Report struct {
	Module    funcbuild.Module
	Functions []*Function
	// WorkDir holds the contexts, scaffolds, binaries and logs (removed at
	// the end unless Config.Keep).
	WorkDir string
	// Database is the PostgreSQL database the functions shared (dropped at
	// the end).
	Database string
	// Flows are the end-to-end checks run once every function was ready.
	Flows []Flow
	Took  time.Duration
}

// Failed lists the functions that failed.
func (r *Report) Failed() []*Function {
	var out []*Function
	for _, f := range r.Functions {
		if f.Err != nil {
			out = append(out, f)
		}
	}
	return out
}

// Run checks the functions cfg names (all by default): it serves the root
// module at cfg.Version from HEAD, builds every function as the pack
// builder would (nova-api from the repository root, each functions/<name>
// pinned to that release in its copied context), then starts nova-api and
// the others as Knative would and stops them. The error lists every
// function that failed; the report has them all.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	began := time.Now()
	rep := &Report{}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("deploy-check: %w", err)
	}
	fns, err := functions(root, cfg.Only)
	if err != nil {
		return nil, err
	}
	rep.Functions = fns
	// The ConfigMaps kubectl apply -k eventing/ would create.
	eventing, err := manifests.Load(filepath.Join(root, "eventing"))
	if err != nil {
		return nil, fmt.Errorf("deploy-check: %w", err)
	}
	configMaps := eventing.ConfigMaps
	if err := checkOverrides(configMaps); err != nil {
		return nil, fmt.Errorf("deploy-check: %w", err)
	}
	host := envMap(cfg.Env)

	// Every reference resolvable before anything is built: an unknown
	// Secret or ConfigMap key fails here, as kn func deploy would fail.
	logins, err := system.NewKafkaLogins(eventing.KafkaUsers, eventing.Secrets)
	if err != nil {
		return nil, fmt.Errorf("deploy-check: %w", err)
	}
	secrets := &secretValues{kafka: logins}
	placeholder := Local{DatabaseURL: "postgres://check", RedisURL: "redis://check", KafkaBrokers: []string{"check:9092"},
		S3Endpoint: "check:9000", S3Bucket: "check", SMTPAddr: "check:25", APIURL: "http://check", IssuerURL: "http://check"}
	var preflight []error
	for _, f := range fns {
		if _, err := environment(f.yaml, configMaps, secrets, Overrides, placeholder, host, "127.0.0.1:0"); err != nil {
			preflight = append(preflight, err)
		}
	}
	if err := errors.Join(preflight...); err != nil {
		return rep, fmt.Errorf("deploy-check: %w", err)
	}

	work, err := os.MkdirTemp("", "nova-deploycheck-*")
	if err != nil {
		return rep, fmt.Errorf("deploy-check: %w", err)
	}
	rep.WorkDir = work
	if _, err := mountServiceAccount(work); err != nil {
		return rep, fmt.Errorf("deploy-check: %w", err)
	}
	if cfg.Keep {
		fmt.Fprintf(cfg.Out, "work folder (kept): %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	if out, err := gitStatus(ctx, root); err == nil && out != "" {
		fmt.Fprintf(cfg.Out, "note: the work tree has uncommitted changes; the root module the functions require is HEAD's, without them\n")
	}
	if cfg.Version == "" {
		if cfg.Version, err = pseudoVersion(ctx, root); err != nil {
			return rep, fmt.Errorf("deploy-check: %w", err)
		}
	}
	proxy := filepath.Join(work, "proxy")
	rep.Module, err = funcbuild.Proxy(ctx, funcbuild.ProxyConfig{Dir: proxy, Repo: root, Path: release.RootModule, Version: cfg.Version})
	if err != nil {
		return rep, fmt.Errorf("deploy-check: %w", err)
	}
	fmt.Fprintf(cfg.Out, "==> %s %s from HEAD (%.12s) %s\n", rep.Module.Path, rep.Module.Version, rep.Module.Commit, rep.Module.Sum)
	// A copy of the version cached by an earlier check of another commit
	// goes before the builds start: pins running side by side would
	// otherwise read it while one of them replaces it.
	goenv, err := funcbuild.GoEnv(ctx, cfg.Env, "GOMODCACHE")
	if err != nil {
		return rep, fmt.Errorf("deploy-check: %w", err)
	}
	if _, err := funcbuild.ForgetStale(goenv["GOMODCACHE"], rep.Module); err != nil {
		return rep, fmt.Errorf("deploy-check: %w", err)
	}

	buildAll(ctx, cfg, root, work, proxy, rep)
	waitAll(ctx, cfg, configMaps, secrets, host, work, rep)
	if err := runAll(ctx, cfg, eventing.Sources, configMaps, secrets, host, work, rep); err != nil {
		return rep, fmt.Errorf("deploy-check: %w", err)
	}
	rep.Took = time.Since(began)
	var errs []error
	for _, f := range rep.Failed() {
		errs = append(errs, f.Err)
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("deploy-check: %d of %d functions failed:\n%w", len(errs), len(rep.Functions), err)
	}
	for _, fl := range rep.Flows {
		if fl.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fl.Name, fl.Err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("deploy-check: end to end:\n%w", err)
	}
	return rep, nil
}

// functions lists nova-api (the root func.yaml) and functions/*/func.yaml,
// limited to only when it is not empty.
func functions(root string, only []string) ([]*Function, error) {
	dirs := []string{"."}
	matches, err := filepath.Glob(filepath.Join(root, "functions", "*", "func.yaml"))
	if err != nil {
		return nil, err
	}
	slices.Sort(matches)
	for _, m := range matches {
		rel, _ := filepath.Rel(root, filepath.Dir(m))
		dirs = append(dirs, filepath.ToSlash(rel))
	}
	var out []*Function
	names := map[string]bool{}
	for _, d := range dirs {
		fy, err := funchost.LoadFuncYAML(filepath.Join(root, d))
		if err != nil {
			return nil, fmt.Errorf("deploy-check: %w", err)
		}
		names[fy.Name] = true
		if len(only) == 0 || slices.Contains(only, fy.Name) {
			out = append(out, &Function{Name: fy.Name, Dir: d, yaml: fy})
		}
	}
	for _, n := range only {
		if !names[n] {
			known := slices.Sorted(maps.Keys(names))
			return nil, fmt.Errorf("deploy-check: no function %q (functions: %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

// buildAll builds the functions, cfg.Jobs at a time after the first. The
// first (nova-api, whose dependencies are most of everyone's) builds alone:
// two builds on a cold build cache would each compile the same packages.
func buildAll(ctx context.Context, cfg Config, root, work, proxy string, rep *Report) {
	var mu sync.Mutex
	one := func(f *Function) {
		err := build(ctx, cfg, root, work, proxy, rep.Module, f)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			f.Err = err
			fmt.Fprintf(cfg.Out, "==> %s: build FAILED after %s\n", f.Name, dur(f.Build))
			return
		}
		fmt.Fprintf(cfg.Out, "==> %s: built in %s (%s)\n", f.Name, dur(f.Build), size(f.Size))
	}
	if len(rep.Functions) == 0 {
		return
	}
	one(rep.Functions[0])
	sem := make(chan struct{}, cfg.Jobs)
	var wg sync.WaitGroup
	for _, f := range rep.Functions[1:] {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			one(f)
		})
	}
	wg.Wait()
}

// build does for one function what kn func build does before the image
// is assembled.
func build(ctx context.Context, cfg Config, root, work, proxy string, m funcbuild.Module, f *Function) error {
	began := time.Now()
	defer func() { f.Build = time.Since(began) }()
	f.ctx = filepath.Join(work, f.Name, "context")
	if err := funcbuild.Context(filepath.Join(root, f.Dir), f.ctx); err != nil {
		return fmt.Errorf("function %s: %w", f.Name, err)
	}
	uses, err := funcbuild.Requires(f.ctx, m.Path)
	if err != nil {
		return fmt.Errorf("function %s: %w", f.Name, err)
	}
	if f.Dir != "." && uses {
		// What make release does before kn func deploy: the function
		// requires the root module at the release, and its go.sum has it.
		if err := funcbuild.Pin(ctx, funcbuild.PinConfig{Dir: f.ctx, Module: m, ProxyDir: proxy, Env: cfg.Env}); err != nil {
			return fmt.Errorf("function %s: %w", f.Name, err)
		}
	}
	if err := funcbuild.Scaffold(f.ctx, f.yaml.Invoke); err != nil {
		return fmt.Errorf("function %s: %w", f.Name, err)
	}
	buildEnv, err := f.yaml.BuildEnv(func(k string) (string, bool) {
		v, ok := envMap(cfg.Env)[k]
		return v, ok
	})
	if err != nil {
		return err
	}
	f.bin = filepath.Join(work, f.Name, "f")
	built, err := funcbuild.Build(ctx, funcbuild.BuildConfig{
		Name: f.Name, Dir: f.ctx, Out: f.bin, BuildEnv: buildEnv,
		ProxyDir: proxy, NoSumDB: []string{m.Path}, Env: cfg.Env,
	})
	if err != nil {
		return err
	}
	f.Size = built.Size
	return nil
}

// waitAll starts every built function with the manifests' own values —
// cluster addresses that do not resolve here, as at a fresh deploy whose
// database, Redis or Kafka are not up yet — and requires each to stay up,
// answer liveness 200 and readiness with the reason it is not ready, then
// stop cleanly on SIGTERM. A function failing here gets Err.
func waitAll(ctx context.Context, cfg Config, configMaps map[string]map[string]string, secrets *secretValues, host map[string]string, work string, rep *Report) {
	var wg sync.WaitGroup
	for _, f := range rep.Functions {
		if f.Err != nil {
			continue
		}
		wg.Go(func() {
			addr, err := freeAddr()
			var env []string
			if err == nil {
				env, err = environment(f.yaml, configMaps, secrets, nil, Local{ServiceAccountDir: filepath.Join(work, "serviceaccount")}, host, addr)
			}
			var p *process
			if err == nil {
				p, err = start(f.Name, f.bin, f.ctx, addr, env, filepath.Join(work, f.Name, "waiting.log"))
			}
			if err != nil {
				f.Err = err
				return
			}
			f.Waiting, err = p.waitNotReady(ctx, cfg.ReadyTimeout)
			if _, serr := p.stop(cfg.StopTimeout); err == nil {
				err = serr
			}
			if err != nil {
				f.Err = fmt.Errorf("with the cluster's addresses unreachable: %w", err)
			}
		})
	}
	wg.Wait()
}

// runAll starts nova-api, then the other built functions, waits for each
// to be ready, reports, and stops them all. Its error is about the local
// servers; a function's failure is in its Err.
func runAll(ctx context.Context, cfg Config, sources []source.KafkaSource, configMaps map[string]map[string]string, secrets *secretValues, host map[string]string, work string, rep *Report) error {
	var runnable []*Function
	for _, f := range rep.Functions {
		if f.Err == nil {
			runnable = append(runnable, f)
		}
	}
	if len(runnable) == 0 {
		writeReport(cfg.Out, rep)
		return nil
	}
	if err := pingRedis(ctx, cfg.RedisURL); err != nil {
		return err
	}
	dropUser, err := createRedisUser(ctx, cfg.RedisURL, secrets)
	if err != nil {
		return err
	}
	defer func() {
		if err := dropUser(); err != nil {
			fmt.Fprintf(cfg.Out, "warning: %v\n", err)
		}
	}()
	db, err := createDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.drop(ctx); err != nil {
			fmt.Fprintf(cfg.Out, "warning: %v\n", err)
		}
	}()
	// The broker demands what the cluster's does: TLS, each function's
	// SCRAM login, the KafkaUsers' ACLs.
	kafka, err := broker.Open(ctx, broker.Config{Port: 0, DataDir: filepath.Join(work, "kafka"), Logger: cfg.Logger,
		Auth: secrets.kafka.Auth, Security: secrets.kafka.Admin})
	if err != nil {
		return err
	}
	defer kafka.Close()
	bucket := configMaps["nova-config"]["S3_BUCKET"]
	if bucket == "" {
		bucket = "nova-media"
	}
	s3, err := objectstore.Start("127.0.0.1:0", bucket)
	if err != nil {
		return err
	}
	defer s3.Close()
	// The mail relay nova-api sends sign-up mail through, demanding the
	// nova-smtp Secret's login; the flows read the codes from it.
	mailbox, err := startMailSink(secrets, filepath.Join(work, "mail"), cfg.Logger)
	if err != nil {
		return err
	}
	defer mailbox.Close()
	rep.Database = db.name
	iss, err := system.StartIssuer("127.0.0.1")
	if err != nil {
		return err
	}
	defer func() { _ = iss.Close(context.WithoutCancel(ctx)) }()
	local := Local{DatabaseURL: db.url, RedisURL: cfg.RedisURL, KafkaBrokers: kafka.Addrs(), S3Endpoint: s3.Endpoint(), S3Bucket: bucket,
		SMTPAddr: mailbox.Addr(), Mail: mailbox,
		Kafka: secrets.kafka, Issuer: iss, IssuerURL: iss.URL(), ServiceAccountDir: filepath.Join(work, "serviceaccount")}
	cfg.Logger.Info("local servers", "database", db.name, "redis", cfg.RedisURL, "kafka", strings.Join(local.KafkaBrokers, ","), "smtp", local.SMTPAddr)

	var running []*Function
	defer func() {
		// Reverse order: nova-api, which the others may call, goes last.
		for i := len(running) - 1; i >= 0; i-- {
			running[i].proc.kill()
		}
	}()
	launch := func(f *Function) bool {
		addr, err := freeAddr()
		if err == nil {
			var env []string
			if env, err = environment(f.yaml, configMaps, secrets, Overrides, local, host, addr); err == nil {
				f.proc, err = start(f.Name, f.bin, f.ctx, addr, env, filepath.Join(work, f.Name, "output.log"))
			}
		}
		if err != nil {
			f.Err = err
			return false
		}
		running = append(running, f)
		return true
	}

	// nova-api first: the others may need its address (its JWKS).
	rest := runnable
	if runnable[0].Dir == "." {
		api := runnable[0]
		rest = runnable[1:]
		if launch(api) {
			api.Ready, api.Err = api.proc.waitReady(ctx, cfg.ReadyTimeout)
			if api.Err == nil {
				local.APIURL = api.proc.url
			}
		}
	}
	var wg sync.WaitGroup
	for _, f := range rest {
		if launch(f) {
			wg.Go(func() {
				ready, err := f.proc.waitReady(ctx, cfg.ReadyTimeout)
				f.Ready, f.Err = ready, err
			})
		}
	}
	wg.Wait()

	// End to end, with every function that came up.
	urls := map[string]string{}
	for _, f := range running {
		if f.Err == nil {
			urls[f.Name] = f.proc.url
		}
	}
	rep.Flows = runFlows(ctx, flowEnv{local: local, urls: urls, sources: sources, log: cfg.Logger})
	for _, fl := range rep.Flows {
		switch {
		case fl.Skipped != "":
			fmt.Fprintf(cfg.Out, "==> %s: skipped (%s)\n", fl.Name, fl.Skipped)
		case fl.Err != nil:
			fmt.Fprintf(cfg.Out, "==> %s: FAILED after %s\n", fl.Name, dur(fl.Took))
		default:
			fmt.Fprintf(cfg.Out, "==> %s: ok in %s\n", fl.Name, dur(fl.Took))
		}
	}

	// Stop in reverse order, every one that is still running.
	for i := len(running) - 1; i >= 0; i-- {
		f := running[i]
		took, err := f.proc.stop(cfg.StopTimeout)
		f.Stop = took
		if err != nil && f.Err == nil {
			f.Err = err
		}
	}
	running = nil
	writeReport(cfg.Out, rep)
	return nil
}

// pseudoVersion is the go command's name for HEAD as an untagged version:
// v0.0.0-<commit time, UTC>-<first 12 hex digits of the commit>.
func pseudoVersion(ctx context.Context, root string) (string, error) {
	out, err := execOutput(ctx, root, "git", "log", "-1", "--format=%ct %H")
	if err != nil {
		return "", fmt.Errorf("HEAD of %s: %w", root, err)
	}
	secs, hash, ok := strings.Cut(strings.TrimSpace(out), " ")
	n, perr := strconv.ParseInt(secs, 10, 64)
	if !ok || perr != nil || len(hash) < 12 {
		return "", fmt.Errorf("HEAD of %s: unexpected git log output %q", root, out)
	}
	return "v0.0.0-" + time.Unix(n, 0).UTC().Format("20060102150405") + "-" + hash[:12], nil
}

func gitStatus(ctx context.Context, root string) (string, error) {
	out, err := execOutput(ctx, root, "git", "status", "--porcelain")
	return strings.TrimSpace(out), err
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
