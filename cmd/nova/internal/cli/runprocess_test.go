package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/testrig"
)

// These tests run `nova run` as a user does, as a process of its own, in a
// checkout of their own: a folder with the files nova run reads (func.yaml,
// eventing/, each functions/<name>/func.yaml), so its .nova/ is the test's.

// checkout makes such a folder.
func checkout(t *testing.T) string {
	t.Helper()
	src, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	copyFile := func(rel string) {
		b, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("go.mod")
	copyFile("func.yaml")
	fns, err := filepath.Glob(filepath.Join(src, "functions", "*", "func.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		rel, _ := filepath.Rel(src, f)
		copyFile(rel)
	}
	err = filepath.WalkDir(filepath.Join(src, "eventing"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		copyFile(rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// novaRun is a `nova run` child process.
type novaRun struct {
	cmd    *exec.Cmd
	out    *syncBuffer // standard output
	errb   *syncBuffer // standard error
	exited chan struct{}
	ready  chan struct{}
}

// syncBuffer is a buffer the child writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runArgs are the flags of a run on free ports against databaseURL.
func runArgs(t *testing.T, root, databaseURL string) []string {
	t.Helper()
	return []string{"run", "--root", root, "--port-base", "0", "--metrics-addr", "127.0.0.1:0", "--ingress-addr", "127.0.0.1:0",
		"--console-addr", "127.0.0.1:0", "--kafka-port", "0", "--database-url", databaseURL, "--redis-url", testrig.RedisAdminURL(t), "--log-level", "warn"}
}

// startNova starts `nova args...`; the process is killed, if still there,
// when the test ends.
func startNova(t *testing.T, args ...string) *novaRun {
	t.Helper()
	cmd := exec.Command(testrig.NovaBinary(t), args...)
	// The flags say everything; settings of the developer's shell must not.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "NOVA_") || strings.HasPrefix(k, "KAFKA_") || k == "DATABASE_URL" || k == "REDIS_URL" ||
			strings.HasPrefix(k, "REDIS_") || k == "PGPASSWORD" || k == "SMTP_ADDR" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	r := &novaRun{cmd: cmd, out: &syncBuffer{}, errb: &syncBuffer{}, exited: make(chan struct{}), ready: make(chan struct{})}
	cmd.Stderr = r.errb
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		once := sync.Once{}
		for sc.Scan() {
			fmt.Fprintln(r.out, sc.Text())
			if strings.HasPrefix(sc.Text(), "Ctrl-C stops everything") {
				once.Do(func() { close(r.ready) })
			}
		}
		_ = cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			_ = cmd.Process.Kill()
			<-r.exited
		}
	})
	return r
}

// waitReady waits for the status table and "Ctrl-C stops everything".
func (r *novaRun) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-r.ready:
	case <-r.exited:
		t.Fatalf("nova run exited before it was up (%v):\n%s\n%s", r.cmd.ProcessState, r.out, r.errb)
	case <-time.After(90 * time.Second):
		t.Fatalf("nova run not up after 90s:\n%s\n%s", r.out, r.errb)
	}
}

// wait waits for the process to end and returns its exit code.
func (r *novaRun) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-r.exited:
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("nova run still running after %s:\n%s\n%s", within, r.out, r.errb)
		return -1
	}
}

// Ctrl-C (SIGINT) or a SIGTERM stops a run cleanly with exit status 0: a
// clean stop is not an error for make, a shell or a process manager.
func TestRunExitsZeroOnInterrupt(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			r := startNova(t, runArgs(t, checkout(t), testrig.PostgresURL(t))...)
			r.waitReady(t)
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := r.wait(t, 60*time.Second); code != 0 {
				t.Fatalf("exit status %d after %s, want 0:\n%s\n%s", code, sig, r.out, r.errb)
			}
			if !strings.Contains(r.out.String(), "Stopped cleanly") {
				t.Errorf("no clean stop reported:\n%s", r.out)
			}
		})
	}
}

var budgetLine = regexp.MustCompile(`PostgreSQL: at most (\d+) connections \(([^)]*)\) of the server's max_connections (\d+)`)

// An idle run holds no more PostgreSQL connections than the budget it
// prints, each pool no more than its share, every one named after its
// function in pg_stat_activity; the budget leaves most of a default server
// (100 connections) to everyone else; and idle connections are given back
// (here after 2s rather than nova run's minute, set in DATABASE_URL as a
// user may).
func TestIdleRunHoldsNoMoreThanItsBudget(t *testing.T) {
	dbURL := testrig.PostgresURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	q := u.Query()
	q.Set("pool_max_conn_idle_time", "2s")
	q.Set("pool_health_check_period", "500ms")
	u.RawQuery = q.Encode()
	r := startNova(t, runArgs(t, checkout(t), u.String())...)
	r.waitReady(t)

	m := budgetLine.FindStringSubmatch(r.out.String())
	if m == nil {
		t.Fatalf("no budget line in the status:\n%s", r.out)
	}
	total, _ := strconv.Atoi(m[1])
	share := map[string]int{}
	for _, part := range strings.Split(m[2], ", ") {
		name, n, _ := strings.Cut(part, " ")
		share[name], _ = strconv.Atoi(n)
	}
	if total > 40 {
		t.Errorf("budget %d, want at most 40 with the default pools: %s", total, m[0])
	}

	admin, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	held := func() (int, map[string]int) {
		rows, err := admin.Query(context.Background(), `SELECT application_name, count(*)::int FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid() GROUP BY 1`, db)
		if err != nil {
			t.Fatal(err)
		}
		by, sum := map[string]int{}, 0
		for rows.Next() {
			var app string
			var n int
			if err := rows.Scan(&app, &n); err != nil {
				t.Fatal(err)
			}
			by[app] = n
			sum += n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return sum, by
	}
	// Sampled from the start for a few seconds: the dispatcher and relays
	// keep working while the run is idle.
	most, mostBy := 0, map[string]int{}
	for range 16 {
		if sum, by := held(); sum > most {
			most, mostBy = sum, by
		}
		time.Sleep(500 * time.Millisecond)
	}
	idle, idleBy := held()
	t.Logf("%d connections at most (%v), %d once idle (%v), of a budget of %d", most, mostBy, idle, idleBy, total)
	// What stays: each outbox relay's LISTEN connection and the one its
	// polling keeps in use.
	if idle > total/2 {
		t.Errorf("%d connections held once idle (%v), want at most half the budget of %d", idle, idleBy, total)
	}
	if most > total {
		t.Errorf("%d connections held, more than the budget of %d: %v", most, total, mostBy)
	}
	for app, n := range mostBy {
		if want, ok := share[app]; !ok {
			t.Errorf("%d connections named %q, which is not in the budget (%s)", n, app, m[2])
		} else if n > want {
			t.Errorf("%s holds %d connections, its share is %d", app, n, want)
		}
	}

	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit status %d:\n%s", code, r.errb)
	}
}

// snapshot is every file under dir with its size, time and content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum = fmt.Sprintf("%x", sha256.Sum256(b))
		}
		out[p] = fmt.Sprintf("%s %d %s %s", info.Mode(), info.Size(), info.ModTime().Format(time.RFC3339Nano), sum)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// settled is the snapshot of dir once it has not changed for two seconds.
func settled(t *testing.T, dir string) map[string]string {
	t.Helper()
	last, since := snapshot(t, dir), time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		now := snapshot(t, dir)
		if !maps.Equal(now, last) {
			last, since = now, time.Now()
		} else if time.Since(since) >= 2*time.Second {
			return now
		}
	}
	t.Fatalf("%s keeps changing", dir)
	return nil
}

// databaseExists reports whether the server at adminURL has database name.
func databaseExists(t *testing.T, adminURL, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// freshDatabase is the URL of a database that does not exist yet on the
// test server, dropped at the end if something made it.
func freshDatabase(t *testing.T) (dsn, adminURL, name string) {
	t.Helper()
	adminURL = testrig.PostgresURL(t)
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	name = "nova_fresh_" + testrig.ID()
	u.Path = "/" + name
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), adminURL)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})
	return u.String(), adminURL, name
}

// A second run in the same checkout stops at once with who runs there and
// changes nothing: not a file of the first run's .nova/ (its Kafka data
// above all), not the database it would have made.
func TestSecondRunInTheSameCheckoutIsRefused(t *testing.T) {
	root := checkout(t)
	first := startNova(t, runArgs(t, root, testrig.PostgresURL(t))...)
	first.waitReady(t)
	// Once its consumer groups have joined, an idle run writes nothing.
	before := settled(t, filepath.Join(root, ".nova"))

	dsn, adminURL, fresh := freshDatabase(t)
	start := time.Now()
	second := startNova(t, runArgs(t, root, dsn)...)
	code := second.wait(t, 30*time.Second)
	took := time.Since(start)

	if code != 1 {
		t.Errorf("second run: exit status %d, want 1", code)
	}
	want := fmt.Sprintf("Nova is already running in %s (pid %d, started ", filepath.Join(root, ".nova", "kafka"), first.cmd.Process.Pid)
	if !strings.Contains(second.errb.String(), want) {
		t.Errorf("second run's answer lacks %q:\n%s\n%s", want, second.out, second.errb)
	}
	if took > 10*time.Second {
		t.Errorf("the second run took %s to give up; it must fail at once", took)
	}
	after := snapshot(t, filepath.Join(root, ".nova"))
	for p, was := range before {
		if now, ok := after[p]; !ok {
			t.Errorf("%s is gone", p)
		} else if now != was {
			t.Errorf("%s changed:\n  was %s\n  now %s", p, was, now)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
	if databaseExists(t, adminURL, fresh) {
		t.Errorf("the second run created database %s", fresh)
	}

	// The first run is untouched and still stops cleanly.
	if err := first.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := first.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("first run: exit status %d:\n%s", code, first.errb)
	}
}

// A taken port is answered once, before anything starts: the address, what
// wanted it, the process holding it (this test) and the flag and variable
// that move it, without a wall of "address already in use".
func TestTakenPortIsAnsweredOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatalf("this test needs Linux's /proc: %v", err)
	}

	dsn, adminURL, fresh := freshDatabase(t)
	args := append(runArgs(t, checkout(t), dsn), "--metrics-addr", addr)
	r := startNova(t, args...)
	if code := r.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1:\n%s\n%s", code, r.out, r.errb)
	}
	msg := r.errb.String()
	for _, want := range []string{
		"a port Nova needs is in use:",
		fmt.Sprintf("%s, wanted by the dispatcher's metrics, held by pid %d (%s)", addr, os.Getpid(), strings.TrimSpace(string(comm))),
		"change with --metrics-addr or NOVA_METRICS_ADDR",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("answer lacks %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "address already in use"); n > 0 {
		t.Errorf("%d raw bind errors:\n%s", n, msg)
	}
	if databaseExists(t, adminURL, fresh) {
		t.Errorf("database %s was created before the ports were checked", fresh)
	}
}

// make run, interrupted as a terminal's Ctrl-C does (SIGINT to the whole
// foreground process group: make, its shell, nova), is not an error: no
// "make: *** ... Error 1" after a clean stop, as `go run` in the recipe
// gave. It also shows the build progressing before nova starts.
func TestMakeRunInterruptIsNotAnError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the nova command through make run (links a fresh binary)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is not installed: %v", err)
	}
	src, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	root := checkout(t)
	bin := filepath.Join(t.TempDir(), "nova")
	runFlags := strings.Join(runArgs(t, root, testrig.PostgresURL(t))[1:], " ")
	cmd := exec.Command("make", "-C", src, "run", "NOVA="+bin, "ARGS="+runFlags)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "NOVA_") || strings.HasPrefix(k, "KAFKA_") || strings.HasPrefix(k, "MAKE") || k == "MFLAGS" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	deadline := time.After(10 * time.Minute)
	for !strings.Contains(out.String(), "Ctrl-C stops everything") {
		select {
		case err := <-done:
			t.Fatalf("make run ended before nova was up (%v):\n%s", err, out)
		case <-deadline:
			t.Fatalf("nova not up after 10 minutes:\n%s", out)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err2 error
	select {
	case err2 = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("make run still running a minute after Ctrl-C:\n%s", out)
	}
	text := out.String()
	if !strings.Contains(text, "building bin/nova") || !strings.Contains(text, "built bin/nova in") {
		t.Errorf("no build progress shown:\n%s", text)
	}
	if !strings.Contains(text, "Stopped cleanly") {
		t.Errorf("nova did not stop cleanly:\n%s", text)
	}
	if strings.Contains(text, "make: ***") {
		t.Errorf("make reported an error after a clean stop:\n%s", text)
	}
	// make itself got the SIGINT too, and, as every program interrupted
	// at a terminal, ends by it; what it must not do is exit with a
	// failure status of its own.
	var exit *exec.ExitError
	switch {
	case err2 == nil:
	case errors.As(err2, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("make run: %v, want exit status 0 or the end by SIGINT every interrupted make has:\n%s", err2, text)
		}
	default:
		t.Fatal(err2)
	}
}
