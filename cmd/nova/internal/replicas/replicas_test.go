package replicas_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/replicas"
)

// instance answers with its own name.
func instance(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "echo" {
			// A protocol switch, as a websocket's: the balancer must hand
			// the connection through.
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			fmt.Fprint(buf, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			buf.Flush()
			line, _ := buf.ReadString('\n')
			fmt.Fprintf(buf, "%s says %s", name, line)
			buf.Flush()
			return
		}
		fmt.Fprint(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func open(t *testing.T, names ...string) *replicas.Balancer {
	t.Helper()
	b, err := replicas.Listen("fn", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	for _, n := range names {
		if _, err := b.Add(instance(t, n).URL); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func get(t *testing.T, b *replicas.Balancer) (int, string) {
	t.Helper()
	resp, err := http.Get(b.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestRoundRobinOverReadyInstances(t *testing.T) {
	b := open(t, "a", "b", "c")
	var got []string
	for range 6 {
		_, body := get(t, b)
		got = append(got, body)
	}
	if fmt.Sprint(got) != "[a b c a b c]" {
		t.Fatalf("answers %v, want each instance in turn", got)
	}
	b.SetReady(1, false)
	got = nil
	for range 4 {
		_, body := get(t, b)
		got = append(got, body)
	}
	if strings.Contains(fmt.Sprint(got), "b") || len(got) != 4 {
		t.Fatalf("answers %v: b is out of rotation", got)
	}
	b.SetReady(1, true)
	seen := map[string]bool{}
	for range 3 {
		_, body := get(t, b)
		seen[body] = true
	}
	if !seen["b"] {
		t.Fatalf("b back in rotation, yet not answering: %v", seen)
	}
	if s := b.Served(); s[0] == 0 || s[1] == 0 || s[2] == 0 {
		t.Fatalf("served %v", s)
	}
}

func TestNoneReadyIs503(t *testing.T) {
	b := open(t, "a")
	b.SetReady(0, false)
	if code, body := get(t, b); code != http.StatusServiceUnavailable || !strings.Contains(body, "no instance is ready") {
		t.Fatalf("%d %q", code, body)
	}
}

func TestDeadInstanceIs502(t *testing.T) {
	b, err := replicas.Listen("fn", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more: a killed pod
	if _, err := b.Add("http://" + addr); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, b); code != http.StatusBadGateway {
		t.Fatalf("a dead instance answered %d, want 502 (retried by the dispatcher)", code)
	}
}

func TestUpgradedConnectionsPassThrough(t *testing.T) {
	b := open(t, "a", "b")
	for _, want := range []string{"a", "b"} {
		conn, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: fn\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rd := bufio.NewReader(conn)
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade answered %d", resp.StatusCode)
		}
		fmt.Fprint(conn, "hello\n")
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := io.ReadAll(rd)
		conn.Close()
		if string(line) != want+" says hello\n" {
			t.Fatalf("through the upgraded connection: %q, want %q", line, want+" says hello\n")
		}
	}
}
