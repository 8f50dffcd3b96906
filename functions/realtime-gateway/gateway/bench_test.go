package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nova-social/nova/functions/realtime-gateway/gateway"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// The gateway benchmarks hold thousands of connections. Both ends of a
// loopback connection cost a file descriptor, and the machine allows 20,000
// per process, so the clients run in a child process (this test binary
// re-run with NOVA_WS_SWARM set) and the benchmark process holds only the
// server ends, which is also what is measured.
const swarmEnv = "NOVA_WS_SWARM"

func TestMain(m *testing.M) {
	if spec := os.Getenv(swarmEnv); spec != "" {
		os.Exit(runSwarm(spec))
	}
	os.Exit(m.Run())
}

// raiseFDLimit lifts the soft descriptor limit to the hard one.
func raiseFDLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	l.Cur = l.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}

// runSwarm is the child: spec is "<url> <token file>". It opens one
// connection per token (one line each), counts the frames after hello,
// prints "ready" once all are open, then answers each "count" line on stdin
// with the total and exits on EOF.
func runSwarm(spec string) int {
	raiseFDLimit()
	url, file, _ := strings.Cut(spec, " ")
	raw, err := os.ReadFile(file)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	tokens := strings.Fields(string(raw))
	var frames atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, len(tokens))
	sem := make(chan struct{}, 64)
	var failed atomic.Int64
	for i, tok := range tokens {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}})
			if err != nil {
				failed.Add(1)
				return
			}
			if _, _, err := ws.Read(ctx); err != nil { // hello
				failed.Add(1)
				return
			}
			conns[i] = ws
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		fmt.Println("error", n, "connections failed")
		return 1
	}
	for _, ws := range conns {
		go func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					return
				}
				frames.Add(1)
			}
		}()
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(frames.Load())
	}
	return 0
}

// swarm is the parent's handle on the child.
type swarm struct {
	cmd   *exec.Cmd
	in    *bufio.Writer
	out   *bufio.Scanner
	users []id.UserID
}

func startSwarm(b *testing.B, r *rig, n int) *swarm {
	b.Helper()
	users := make([]id.UserID, n)
	var sb strings.Builder
	for i := range users {
		users[i] = id.NewUserID()
		sb.WriteString(r.token(users[i]))
		sb.WriteByte('\n')
	}
	file := filepath.Join(b.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), swarmEnv+"="+r.url+" "+file)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &swarm{cmd: cmd, in: bufio.NewWriter(stdin), out: bufio.NewScanner(stdout), users: users}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	if !s.out.Scan() || s.out.Text() != "ready" {
		b.Fatalf("client swarm: %q %v", s.out.Text(), s.out.Err())
	}
	eventually(b, "all connections registered", func() bool { return r.gw.Stats().Connections == n })
	return s
}

func (s *swarm) count(b *testing.B) int64 {
	b.Helper()
	s.in.WriteString("count\n")
	s.in.Flush()
	if !s.out.Scan() {
		b.Fatalf("client swarm gone: %v", s.out.Err())
	}
	n, err := strconv.ParseInt(s.out.Text(), 10, 64)
	if err != nil {
		b.Fatalf("client swarm said %q", s.out.Text())
	}
	return n
}

// serverMemory is the live heap plus goroutine stacks after a GC, and the
// resident set size.
func serverMemory() (heapStack, rss uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	raw, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			rss = kb << 10
		}
	}
	return ms.HeapInuse + ms.StackInuse, rss
}

func benchConns() int {
	if v, err := strconv.Atoi(os.Getenv("NOVA_BENCH_CONNS")); err == nil && v > 0 {
		return v
	}
	return 10000
}

// BenchmarkIdleConnections opens NOVA_BENCH_CONNS (default 10,000) idle
// websocket connections to one gateway and reports the server-side memory
// per connection (heap+stacks after GC, and RSS) and the connections that
// fit in 1 GiB at that rate. The same-run baseline is the process before
// any connection.
//
//	go test -run '^$' -bench IdleConnections -benchtime 1x ./gateway
func BenchmarkIdleConnections(b *testing.B) {
	raiseFDLimit()
	r := newRig(b, nil)
	n := benchConns()
	for b.Loop() {
		heap0, rss0 := serverMemory()
		startSwarm(b, r, n)
		heap1, rss1 := serverMemory()
		perHeap := float64(heap1-heap0) / float64(n)
		perRSS := float64(int64(rss1)-int64(rss0)) / float64(n)
		b.ReportMetric(perHeap, "heap-B/conn")
		b.ReportMetric(perRSS, "rss-B/conn")
		b.ReportMetric(float64(1<<30)/perRSS, "conns/GiB(rss)")
		b.ReportMetric(float64(rss0)/(1<<20), "baseline-rss-MiB")
		b.ReportMetric(float64(n), "conns")
	}
}

// BenchmarkFanout pushes deliveries naming every one of NOVA_BENCH_CONNS
// (default 10,000) connected users, each frame a typical message frame,
// and reports frames delivered per second as counted by the clients. The
// same-run baseline is the rate the gateway queued them at (Stats.Delivered
// over the same time), which excludes writing and reading.
//
//	go test -run '^$' -bench Fanout -benchtime 20x ./gateway
func BenchmarkFanout(b *testing.B) {
	raiseFDLimit()
	r := newRig(b, func(c *gateway.Config) { c.SendQueue = 256 })
	n := benchConns()
	s := startSwarm(b, r, n)
	frame := []byte(`{"type":"message","message":{"id":"0193a0a0-0000-7000-8000-000000000000","conversation_id":"0193a0a0-0000-7000-8000-000000000001","sequence":1,"sender_id":"0193a0a0-0000-7000-8000-000000000002","client_message_id":"c1","type":"TEXT","content":"hello there, this is a typical short chat message","media":[],"sent_at":"2026-01-01T00:00:00Z","recipient_ids":[]}}`)
	d, err := json.Marshal(push.Delivery{UserIDs: s.users, Frame: frame})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rdb := testrig.Redis(b)
	base := s.count(b)
	queued0 := r.gw.Stats().Delivered
	start := time.Now()
	pushes := 0
	for b.Loop() {
		if err := rdb.Publish(ctx, push.Channel(r.gw.ID()), d).Err(); err != nil {
			b.Fatal(err)
		}
		pushes++
	}
	want := base + int64(pushes*n)
	var queuedAt time.Duration
	for {
		if queuedAt == 0 && r.gw.Stats().Delivered-queued0 >= uint64(pushes*n) {
			queuedAt = time.Since(start)
		}
		if s.count(b) >= want {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if st := r.gw.Stats(); st.Dropped > 0 {
		b.Fatalf("%d connections dropped as slow", st.Dropped)
	}
	b.ReportMetric(float64(pushes*n)/elapsed.Seconds(), "frames/s")
	if queuedAt > 0 {
		b.ReportMetric(float64(pushes*n)/queuedAt.Seconds(), "queued-frames/s")
	}
	b.ReportMetric(float64(n), "clients")
}
