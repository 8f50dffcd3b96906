package testrig

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// child is a nova command a test runs as a child process in its -control
// mode: it prints "listening on ADDR" when it is up, answers commands on
// its standard input one line each ("ok [value]" or "error: reason"), and
// stops when that input closes, so it never outlives the test process.
type child struct {
	name   string
	addrs  []string
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *logBuffer

	mu   sync.Mutex // one command at a time
	in   io.WriteCloser
	out  *bufio.Scanner
	once sync.Once
}

// startChild runs `nova args... -control` and waits until it listens; it
// is stopped when the test ends.
func startChild(t testing.TB, args ...string) *child {
	t.Helper()
	bin := novaBinary(t)
	cmd := exec.Command(bin, append(args, "-control")...)
	c := &child{name: "nova " + args[0], cmd: cmd, exited: make(chan struct{}), stderr: &logBuffer{}}
	cmd.Stderr = c.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.in, c.out = in, bufio.NewScanner(out)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", c.name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(c.stop)

	line, err := c.read(30 * time.Second)
	addrs, ok := strings.CutPrefix(line, "listening on ")
	if err != nil || !ok {
		c.stop()
		t.Fatalf("%s did not start (%q, %v): %s", c.name, line, err, c.stderr.String())
	}
	c.addrs = strings.Split(addrs, ",")
	return c
}

// stop closes the child's input, which stops it, and waits until it has
// exited (its state written, its port free). It is safe to call twice.
func (c *child) stop() {
	c.once.Do(func() {
		_ = c.in.Close()
		select {
		case <-c.exited:
		case <-time.After(20 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
}

// kill ends the child with SIGKILL, as the kernel's OOM killer would:
// nothing is flushed or closed; it waits until the process is gone.
func (c *child) kill() {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.exited
		_ = c.in.Close()
	})
}

// command sends one command line and returns the value of its "ok" answer.
func (c *child) command(t testing.TB, cmd string) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintln(c.in, cmd); err != nil {
		t.Fatalf("%s: %s: %v", c.name, cmd, err)
	}
	line, err := c.read(10 * time.Second)
	if err != nil {
		t.Fatalf("%s: %s: %v (%s)", c.name, cmd, err, c.stderr.String())
	}
	if reply, ok := strings.CutPrefix(line, "ok"); ok {
		return strings.TrimSpace(reply)
	}
	t.Fatalf("%s: %s: %s", c.name, cmd, line)
	return ""
}

// read returns the child's next line of output.
func (c *child) read(timeout time.Duration) (string, error) {
	type result struct {
		line string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		if c.out.Scan() {
			got <- result{line: c.out.Text()}
			return
		}
		err := c.out.Err()
		if err == nil {
			err = errors.New("it exited")
		}
		got <- result{err: err}
	}()
	select {
	case r := <-got:
		return r.line, r.err
	case <-time.After(timeout):
		return "", fmt.Errorf("no answer in %s", timeout)
	}
}

// logBuffer keeps what the broker writes to its standard error, for the
// message of a failed test.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// novaBin is the nova command built once per test process.
var novaBin struct {
	once sync.Once
	path string
	err  error
}

// NovaBinary is the nova command for a test that runs it as a child
// process itself (nova run, to send it signals): see novaBinary.
func NovaBinary(t testing.TB) string {
	t.Helper()
	return novaBinary(t)
}

// novaBinary is NOVA_BIN (make builds bin/nova and sets it) or else the
// nova command built from this repository's cmd/nova into the user's cache,
// once per test process, under a lock that concurrent test processes share
// (an up-to-date binary is not relinked).
func novaBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("NOVA_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("testrig: NOVA_BIN=%s: %v (make nova builds it)", p, err)
		}
		return p
	}
	novaBin.once.Do(func() { novaBin.path, novaBin.err = buildNova() })
	if novaBin.err != nil {
		t.Fatalf("testrig: a Kafka broker needs the nova command: %v; set NOVA_BIN to a nova binary (make builds bin/nova: cd cmd/nova && go build -o ../../bin/nova .)", novaBin.err)
	}
	return novaBin.path
}

func buildNova() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the repository")
	}
	src := filepath.Join(filepath.Dir(file), "..", "..", "cmd", "nova")
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return "", fmt.Errorf("no cmd/nova beside this testrig (%w)", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "nova-testrig")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	bin := filepath.Join(dir, "nova")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in %s: %w\n%s", src, err, out)
	}
	return bin, nil
}
