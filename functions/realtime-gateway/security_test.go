package function_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	function "github.com/nova-social/nova/functions/realtime-gateway"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/auth/authtest"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/httpapi/limittest"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// securedGateway runs the gateway function behind a server with
// httpapi's limits (a short header timeout) and every log line at debug
// level captured; it returns the server's address.
func securedGateway(t *testing.T, key auth.Key) (addr string, logs *testrig.Logs) {
	t.Helper()
	logs = &testrig.Logs{}
	// The function logs through the default logger it finds at New.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	f := function.New()
	slog.SetDefault(prev)
	jwks, err := json.Marshal(auth.JWKS{Keys: []auth.JWK{key.JWK()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background(), map[string]string{
		"REDIS_URL": testrig.RedisURL(t), "KAFKA_BROKERS": strings.Join(testrig.Kafka(t).ListenAddrs(), ","),
		"RATE_LIMIT_NAMESPACE": testrig.ID(), "NOVA_API_URL": "http://127.0.0.1:9",
		auth.EnvJWKS: string(jwks),
	}); err != nil {
		t.Fatal(err)
	}
	eventfunctest.WaitReady(t, f, 30*time.Second)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		f.Stop(ctx)
	})
	srv, err := httpapi.NewServer(httpapi.ServerConfig{Addr: "127.0.0.1:0", ReadHeaderTimeout: 300 * time.Millisecond},
		http.HandlerFunc(f.Handle), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), logs
}

// The websocket upgrade answers anonymous callers and bad tokens with 401
// in the JSON error format, and upgrades a good token however it is
// carried; other paths, other methods and plain GETs without an upgrade
// get 4xx, never 5xx; no token is ever written to the log; and the
// server drops a client that trickles its headers.
func TestGatewayUpgradeSecurity(t *testing.T) {
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	addr, logs := securedGateway(t, key)
	base := "http://" + addr
	ws := "ws://" + addr + "/v1/realtime"
	sub := id.NewUserID()
	f, err := authtest.NewForger(key, sub, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	live(t, sub, f)
	good := f.Valid()
	cases, err := f.Cases()
	if err != nil {
		t.Fatal(err)
	}
	expired := cases[0].Token

	for _, c := range []struct {
		name, carrier, token string
		want                 int
	}{
		{"anonymous", "none", "", http.StatusUnauthorized},
		{"garbage token", "header", "not-a-token", http.StatusUnauthorized},
		{"expired token", "header", expired, http.StatusUnauthorized},
		{"expired token in the query", "query", expired, http.StatusUnauthorized},
		{"empty bearer", "header", "", http.StatusUnauthorized},
		{"good token in the header", "header", good, http.StatusSwitchingProtocols},
		{"good token in the query", "query", good, http.StatusSwitchingProtocols},
		{"good token as a subprotocol", "subprotocol", good, http.StatusSwitchingProtocols},
	} {
		if code, _ := upgrade(t, ws, c.carrier, c.token); code != c.want {
			t.Errorf("%s: upgrade answered %d, want %d", c.name, code, c.want)
		}
	}
	// A Basic scheme is no bearer token, even with a good token in it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, resp, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Basic " + good}}}); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Basic scheme upgraded or answered %v", resp)
	}

	for _, p := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/v1/realtime", "", http.StatusUnauthorized},
		{"GET", "/v1/realtime", good, http.StatusUpgradeRequired}, // a token but no handshake
		{"POST", "/v1/realtime", good, http.StatusMethodNotAllowed},
		{"GET", "/v1/realtime/../../etc/passwd", good, http.StatusNotFound},
		{"GET", "/v1/users/me", good, http.StatusNotFound},
		{"GET", "/", "", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(p.method, base, nil)
		req.URL.Opaque = p.path
		if p.token != "" {
			req.Header.Set("Authorization", "Bearer "+p.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != p.want {
			t.Errorf("%s %s: %d %s, want %d", p.method, p.path, resp.StatusCode, body, p.want)
		}
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
			t.Errorf("%s %s: the answer is not the JSON error format: %s", p.method, p.path, body)
		}
	}

	res, err := limittest.Check(ctx, addr, "/v1/realtime?access_token="+url.QueryEscape(good), 4000, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("slow headers: %v", err)
	}
	t.Logf("slow headers cut off after %d of %d bytes", res.Sent, res.Total)

	// Nothing above, refused or served, put a token into the log.
	out := logs.String()
	sig := good[strings.LastIndex(good, ".")+1:]
	for name, secret := range map[string]string{"the good token": good, "its signature": sig, "the expired token": expired} {
		if strings.Contains(out, secret) {
			t.Errorf("the gateway logged %s", name)
		}
	}
	// The refusals are logged (at debug): the log was captured.
	if !strings.Contains(out, `"msg":"request failed"`) {
		t.Errorf("no refusal in the captured log, so the check above proves nothing: %q", out)
	}
}
