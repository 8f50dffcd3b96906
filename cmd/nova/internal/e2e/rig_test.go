package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/cli"
	"github.com/nova-social/nova/cmd/nova/internal/dispatcher"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/testrig"
)

// rig is a running Nova with helpers that act as its users.
type rig struct {
	t   testing.TB
	sys *system.System
	api string
}

func start(t testing.TB) *rig {
	t.Helper()
	return startWith(t, system.Config{})
}

// startWith runs Nova with cfg, filling what every end-to-end test needs and
// cfg leaves empty: this repository, a fresh database, the test Redis, a
// Kafka data folder of its own, a quiet logger, and ranking keys of its own
// (ranking keeps its schedule under one Redis key, and systems started by
// other test packages share the test Redis). The system stops when the test
// ends.
func startWith(t testing.TB, cfg system.Config) *rig {
	t.Helper()
	if cfg.Root == "" {
		root, err := system.FindRoot(".")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Root = root
	}
	if cfg.Eventing == "" {
		cfg.Eventing = filepath.Join(cfg.Root, "eventing")
	}
	if cfg.MetricsAddr == "" {
		cfg.MetricsAddr = "127.0.0.1:0"
	}
	if cfg.IngressAddr == "" {
		cfg.IngressAddr = "127.0.0.1:0"
	}
	if cfg.Kafka.DataDir == "" && len(cfg.Kafka.Brokers) == 0 {
		cfg.Kafka.DataDir = t.TempDir()
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = testrig.PostgresURL(t)
	}
	if cfg.RedisURL == "" {
		cfg.RedisURL = testrig.RedisAdminURL(t)
	}
	if cfg.MailDir == "" {
		cfg.MailDir = t.TempDir()
	}
	// Rate-limit budgets of the test's own (they outlive a run in the
	// shared Redis), wide enough for one address to play every user and
	// poll as the tests do: the limits are still checked on every request,
	// and the tests about them lay their own over these.
	env := map[string]string{"RANKING_KEY_PREFIX": "ranking:e2e-" + testrig.ID() + ":", "RATE_LIMIT_NAMESPACE": "e2e-" + testrig.ID()}
	for _, v := range []string{"RATE_LIMIT_LOGIN", "RATE_LIMIT_REGISTER", "RATE_LIMIT_WRITE", "RATE_LIMIT_READ",
		"RATE_LIMIT_SEARCH", "RATE_LIMIT_UPLOAD", "RATE_LIMIT_WS_CONNECT", "RATE_LIMIT_WS_FRAMES"} {
		env[v] = "100000/1m"
	}
	for k, v := range cfg.Environ {
		env[k] = v
	}
	cfg.Environ = env
	if cfg.Logger == nil {
		cfg.Logger = keepLogs(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sys, err := system.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start Nova: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sys.Stop(ctx); err != nil {
			t.Errorf("stop Nova: %v", err)
		}
	})
	// Runs before the stop above: a failed test shows where events stand.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lags, err := sys.Dispatcher().Lag(ctx)
		if err != nil {
			t.Logf("consumer lag: %v", err)
			return
		}
		behind := lagging(lags)
		t.Logf("consumers behind when the test failed: %d\n%s", len(behind), strings.Join(behind, "\n"))
	})
	api, ok := sys.FunctionURL("nova-api")
	if !ok {
		t.Fatal("nova-api is not running")
	}
	return &rig{t: t, sys: sys, api: api}
}

// lagging describes each partition a consumer is behind on.
func lagging(lags []dispatcher.Lag) []string {
	var out []string
	for _, l := range lags {
		if l.Lag != 0 {
			out = append(out, fmt.Sprintf("%s %s/%d: %d (committed %d, end %d)", l.Source, l.Topic, l.Partition, l.Lag, l.Committed, l.End))
		}
	}
	return out
}

// keepLogs is the run's logger when a test brings none: quiet while the
// test passes; when it fails, the warnings and errors are printed with it
// and the whole log is kept in a file the failure names, since what went
// wrong inside the system is rarely visible from its API.
func keepLogs(t testing.TB) *slog.Logger {
	logs := &testrig.Logs{}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var loud []string
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
				loud = append(loud, line)
			}
		}
		const shown = 40
		if len(loud) > shown {
			loud = loud[len(loud)-shown:]
		}
		t.Logf("the system's last %d warnings and errors:\n%s", len(loud), strings.Join(loud, "\n"))
		f, err := os.CreateTemp("", "nova-e2e-"+strings.ReplaceAll(t.Name(), "/", "_")+"-*.log")
		if err != nil {
			t.Logf("keep the system's log: %v", err)
			return
		}
		defer f.Close()
		if _, err := f.WriteString(logs.String()); err != nil {
			t.Logf("keep the system's log: %v", err)
			return
		}
		t.Logf("the system's whole log: %s", f.Name())
	})
	return slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// user is a registered, logged-in user.
type user struct {
	ID, Name, Token string
}

func (r *rig) call(method, path, token string, body any) (int, map[string]any) {
	r.t.Helper()
	req, err := testrig.JSONRequest(context.Background(), method, r.api+path, token, body)
	if err != nil {
		r.t.Fatal(err)
	}
	code, out, err := testrig.DoJSON(http.DefaultClient, req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, out
}

func (r *rig) must(want int, method, path, token string, body any) map[string]any {
	r.t.Helper()
	code, out := r.call(method, path, token, body)
	if code != want {
		r.t.Fatalf("%s %s = %d %v, want %d", method, path, code, out, want)
	}
	return out
}

func (r *rig) register(name string) user {
	r.t.Helper()
	name = fmt.Sprintf("%s_%s", name, testrig.ID()[:6])
	u := r.signUp(name, "correct horse battery staple")
	s := r.must(http.StatusOK, "POST", "/v1/sessions", "", map[string]any{
		"username": name, "password": "correct horse battery staple"})
	return user{ID: u["id"].(string), Name: name, Token: s["token"].(string)}
}

// signUp signs name up, takes back the code nova run's mail relay got for
// the address, and answers the new account.
func (r *rig) signUp(name, password string) map[string]any {
	r.t.Helper()
	email := name + "@example.com"
	r.must(http.StatusAccepted, "POST", "/v1/users", "", map[string]any{"username": name, "email": email, "password": password})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := r.sys.Mail().Wait(ctx, email, 1)
	if err != nil {
		r.t.Fatal(err)
	}
	code, ok := identity.CodeFromMail(m.Text)
	if !ok {
		r.t.Fatalf("the sign-up mail to %s holds no code:\n%s", email, m.Text)
	}
	return r.must(http.StatusCreated, "POST", "/v1/users/verification", "", map[string]any{"code": code})
}

// grantAdmin gives u the admin role as an operator does, with nova admin;
// it holds from u's next request, on the token u has.
func (r *rig) grantAdmin(u user) { r.admin("grant", u) }

// revokeAdmin takes it back with nova admin revoke.
func (r *rig) revokeAdmin(u user) { r.admin("revoke", u) }

func (r *rig) admin(verb string, u user) {
	r.t.Helper()
	var out, errOut strings.Builder
	args := []string{"admin", verb, "--user", u.ID, "--by", "e2e", "--database-url", r.sys.DatabaseURL()}
	if code := cli.Main(context.Background(), args, cli.Streams{Out: &out, Err: &errOut}); code != 0 {
		r.t.Fatalf("nova admin %s: exit %d: %s%s", verb, code, out.String(), errOut.String())
	}
}

// login opens another session of u's and returns its token.
func (r *rig) login(u user) string {
	r.t.Helper()
	return r.must(http.StatusOK, "POST", "/v1/sessions", "", map[string]any{
		"username": u.Name, "password": "correct horse battery staple"})["token"].(string)
}

func (r *rig) follow(follower, followee user) {
	r.t.Helper()
	r.must(http.StatusNoContent, "POST", "/v1/users/"+followee.ID+"/follow", follower.Token, nil)
}

func (r *rig) unfollow(follower, followee user) {
	r.t.Helper()
	r.must(http.StatusNoContent, "DELETE", "/v1/users/"+followee.ID+"/follow", follower.Token, nil)
}

func (r *rig) post(author user, content, visibility string) string {
	r.t.Helper()
	p := r.must(http.StatusCreated, "POST", "/v1/posts", author.Token, map[string]any{
		"content": content, "visibility": visibility, "tags": []string{"e2e"}})
	return p["id"].(string)
}

// feed returns the post ids and contents of u's home feed, newest first.
func (r *rig) feed(u user) (ids []string, contents map[string]string) {
	r.t.Helper()
	out := r.must(http.StatusOK, "GET", "/v1/feed?limit=100", u.Token, nil)
	contents = map[string]string{}
	items, _ := out["items"].([]any)
	for _, it := range items {
		m := it.(map[string]any)
		id := m["id"].(string)
		ids = append(ids, id)
		contents[id], _ = m["content"].(string)
	}
	return ids, contents
}

// eventually polls cond until it holds, failing with what it last saw.
func (r *rig) eventually(what string, cond func() (bool, string)) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: still not so after 60s; last seen: %s", what, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// feedIs waits until u's feed holds exactly want, in that order.
func (r *rig) feedIs(u user, want ...string) {
	r.t.Helper()
	r.eventually("feed of "+u.Name+" is "+fmt.Sprint(want), func() (bool, string) {
		got, _ := r.feed(u)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprint(got)
	})
}

// settle waits until the dispatcher has delivered everything produced so
// far, so a check that nothing changed is not made too early.
func (r *rig) settle() {
	r.t.Helper()
	r.eventually("consumer lag back to zero", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		lags, err := r.sys.Dispatcher().Lag(ctx)
		if err != nil {
			return false, err.Error()
		}
		var total int64
		for _, l := range lags {
			total += l.Lag
		}
		return total == 0, fmt.Sprintf("lag %d", total)
	})
}

// pool opens the runtime's database, closed when the test ends.
func (r *rig) pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), r.sys.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
