package deploycheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stderrLines is how much of a process's standard error a failure quotes.
const stderrLines = 20

// process is one running function binary.
type process struct {
	name   string
	url    string
	cmd    *exec.Cmd
	tail   *lineTail
	done   chan struct{}
	err    error // from Wait, once done is closed
	output *os.File
}

// start runs bin in dir with exactly env, its standard output and error
// written to logPath and the last lines of standard error kept.
func start(name, bin, dir, addr string, env []string, logPath string) (*process, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &process{name: name, url: "http://" + addr, tail: &lineTail{max: stderrLines, skip: probeLog}, done: make(chan struct{}), output: out}
	p.cmd = exec.Command(bin)
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout = out
	p.cmd.Stderr = io.MultiWriter(out, p.tail)
	if err := p.cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("function %s: start %s: %w", name, bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls the liveness and readiness endpoints, as the kubelet's
// probes would, until both answer 200. It fails when the process exits,
// when ctx ends or after timeout, quoting the last answer and standard
// error.
func (p *process) waitReady(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	return p.watch(ctx, timeout, "ready", func(live, ready answer) (bool, error) {
		return live.code == http.StatusOK && ready.code == http.StatusOK, nil
	})
}

// waitNotReady polls the health endpoints until liveness answers 200 and
// readiness answers anything else with the failure of an attempt to open
// its dependencies in its body: alive after a failed attempt, and saying
// why it takes no traffic. It fails when the process exits (a crash
// loop under Kubernetes), when it reports ready, or after timeout.
func (p *process) waitNotReady(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	return p.watch(ctx, timeout, "waiting with a not-ready reason", func(live, ready answer) (bool, error) {
		if ready.code == http.StatusOK {
			return false, errors.New("reported ready although none of its dependencies can be reached")
		}
		return live.code == http.StatusOK && strings.Contains(ready.body, "not ready") && strings.Contains(ready.body, "failed"), nil
	})
}

// watch probes liveness and readiness every 100ms until done says the
// answers are what is awaited (what, for messages) or fails.
func (p *process) watch(ctx context.Context, timeout time.Duration, what string, done func(live, ready answer) (bool, error)) (time.Duration, error) {
	began := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string // the most recent answer, for the failure message
	for {
		live, lerr := probe(ctx, client, p.url+"/health/liveness")
		ready, rerr := probe(ctx, client, p.url+"/health/readiness")
		switch {
		case lerr != nil:
			last = "liveness: " + lerr.Error()
		case rerr != nil:
			last = "readiness: " + rerr.Error()
		default:
			ok, err := done(live, ready)
			if err != nil {
				return 0, p.failure(err.Error())
			}
			if ok {
				return time.Since(began), nil
			}
			last = fmt.Sprintf("liveness %d %s, readiness %d %s", live.code, live.body, ready.code, ready.body)
		}
		select {
		case <-p.done:
			return 0, p.failure(fmt.Sprintf("exited (%v) before it was %s; last answer %s", p.err, what, last))
		case <-deadline.C:
			return 0, p.failure(fmt.Sprintf("not %s after %s; last answer %s", what, timeout, last))
		case <-ctx.Done():
			return 0, p.failure(fmt.Sprintf("%v before it was %s; last answer %s", ctx.Err(), what, last))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and requires exit code 0 within timeout; past it the
// process is killed.
func (p *process) stop(timeout time.Duration) (time.Duration, error) {
	began := time.Now()
	select {
	case <-p.done:
		return 0, p.failure(fmt.Sprintf("had exited (%v) before it was stopped", p.err))
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, p.failure(fmt.Sprintf("SIGTERM: %v", err))
	}
	select {
	case <-p.done:
		took := time.Since(began)
		if p.err != nil {
			return took, p.failure(fmt.Sprintf("did not exit cleanly after SIGTERM: %v", p.err))
		}
		return took, nil
	case <-time.After(timeout):
		p.kill()
		return 0, p.failure(fmt.Sprintf("still running %s after SIGTERM (killed)", timeout))
	}
}

// kill ends the process at once, if it is still running.
func (p *process) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill() // it may have exited meanwhile; done says when
		<-p.done
	}
}

func (p *process) failure(what string) error {
	return fmt.Errorf("function %s %s\n  last standard error lines:\n%s", p.name, what, p.tail.String())
}

type answer struct {
	code int
	body string
}

func probe(ctx context.Context, client *http.Client, url string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return answer{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return answer{code: resp.StatusCode, body: strings.TrimSpace(string(body))}, nil
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// probeLog matches func-go's line for each failed health probe, which
// repeats the answer a failure already quotes and would push everything
// else out of the tail.
func probeLog(line string) bool {
	return strings.Contains(line, `"message":"error checking readiness"`) ||
		strings.Contains(line, `"message":"function not yet ready"`) ||
		strings.Contains(line, `"message":"error checking liveness"`)
}

// lineTail keeps the last max lines written to it, but those skip matches.
type lineTail struct {
	mu      sync.Mutex
	max     int
	skip    func(line string) bool
	lines   []string
	partial string
}

func (t *lineTail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sc := bufio.NewScanner(strings.NewReader(t.partial + string(b)))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	t.partial = ""
	if len(b) > 0 && b[len(b)-1] != '\n' && len(lines) > 0 {
		t.partial, lines = lines[len(lines)-1], lines[:len(lines)-1]
	}
	for _, l := range lines {
		if t.skip == nil || !t.skip(l) {
			t.lines = append(t.lines, l)
		}
	}
	if over := len(t.lines) - t.max; over > 0 {
		t.lines = append([]string(nil), t.lines[over:]...)
	}
	return len(b), nil
}

func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if t.partial != "" {
		lines = append(append([]string(nil), lines...), t.partial)
	}
	if len(lines) == 0 {
		return "    (none)"
	}
	return "    " + strings.Join(lines, "\n    ")
}
