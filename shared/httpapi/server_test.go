package httpapi_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/httpapi"
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
