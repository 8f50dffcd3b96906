package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/httpapi/limittest"
)

func TestServerConfig(t *testing.T) {
	log, _ := newLogger()
	srv, err := httpapi.NewServer(httpapi.ServerConfig{}, http.NotFoundHandler(), log)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr != ":8080" || srv.ReadHeaderTimeout != 5*time.Second || srv.ReadTimeout != 30*time.Second ||
		srv.WriteTimeout != 30*time.Second || srv.IdleTimeout != 120*time.Second || srv.MaxHeaderBytes != 64<<10 || srv.ErrorLog == nil {
		t.Fatalf("defaults not applied: %+v", srv)
	}
	for name, c := range map[string]httpapi.ServerConfig{
		"negative timeout":      {ReadTimeout: -1},
		"header timeout > read": {ReadHeaderTimeout: time.Minute, ReadTimeout: time.Second},
		"tiny header limit":     {MaxHeaderBytes: 100},
		"enormous header limit": {MaxHeaderBytes: 10 << 20},
	} {
		if _, err := httpapi.NewServer(c, http.NotFoundHandler(), log); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// Over a real socket, headers beyond MaxHeaderBytes are refused with 431
// before any handler runs.
func TestServerRejectsHugeHeaders(t *testing.T) {
	log, _ := newLogger()
	ran := false
	srv, err := httpapi.NewServer(httpapi.ServerConfig{Addr: "127.0.0.1:0", MaxHeaderBytes: 4 << 10},
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }), log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || ran {
		t.Fatalf("status %d, handler ran %v", resp.StatusCode, ran)
	}
}

// A client that sends its headers byte by byte, so slowly the request
// would take a minute, is disconnected by the header timeout long before
// it finishes, without any handler running.
func TestServerDropsSlowHeaders(t *testing.T) {
	log, _ := newLogger()
	ran := false
	srv, err := httpapi.NewServer(httpapi.ServerConfig{Addr: "127.0.0.1:0", ReadHeaderTimeout: 200 * time.Millisecond},
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }), log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := limittest.Check(ctx, ln.Addr().String(), "/", 6000, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("the handler ran for a request whose headers never arrived")
	}
	t.Logf("disconnected after %d of %d header bytes", res.Sent, res.Total)

	// The oversized header of the same server, through the same client.
	if code, err := limittest.HugeHeader(ctx, ln.Addr().String(), "/", 1<<20); err != nil || code != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 1 MiB header answered %d (%v), want 431", code, err)
	}
}
