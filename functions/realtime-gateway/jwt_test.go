package function_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	function "github.com/nova-social/nova/functions/realtime-gateway"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/auth/authtest"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// jwtGateway starts the realtime-gateway function as deployed — public keys
// only (NOVA_JWKS), its Handle serving HTTP — and returns its websocket
// URL.
func jwtGateway(t *testing.T, keys ...auth.Key) string {
	t.Helper()
	doc := auth.JWKS{}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, k.JWK())
	}
	jwks, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	f := function.New()
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
	srv := httptest.NewServer(http.HandlerFunc(f.Handle))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/realtime"
}

// live marks the session of f's tokens live, as nova-api does at login.
func live(t *testing.T, sub id.UserID, f *authtest.Forger) {
	t.Helper()
	marks := session.NewMarks(testrig.Redis(t))
	ctx := context.Background()
	if err := marks.Mark(ctx, f.Session(), sub, f.Expiry()); err != nil {
		t.Fatal(err)
	}
	if err := marks.SetSynced(ctx); err != nil {
		t.Fatal(err)
	}
}

// upgrade tries to open the websocket with token carried the given way and
// returns the HTTP status of the answer (101 when it upgraded) and its
// WWW-Authenticate challenge.
func upgrade(t *testing.T, url, carrier, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{Subprotocols: []string{"nova.v1"}, HTTPHeader: http.Header{}}
	switch carrier {
	case "header":
		opts.HTTPHeader.Set("Authorization", "Bearer "+token)
	case "query":
		url += "?access_token=" + token
	case "subprotocol":
		opts.Subprotocols = append(opts.Subprotocols, "bearer."+token)
	}
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if err == nil {
		ws.Close(websocket.StatusNormalClosure, "")
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial over %s: %v", carrier, err)
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// Every hostile token, however it is carried, makes the websocket upgrade
// answer 401; the same key's honest token upgrades.
func TestGatewayRefusesHostileTokensAtUpgrade(t *testing.T) {
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	url := jwtGateway(t, key)
	sub := id.NewUserID()
	f, err := authtest.NewForger(key, sub, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	live(t, sub, f)
	cases, err := f.Cases()
	if err != nil {
		t.Fatal(err)
	}
	for _, carrier := range []string{"header", "query", "subprotocol"} {
		if code, _ := upgrade(t, url, carrier, f.Valid()); code != http.StatusSwitchingProtocols {
			t.Fatalf("the control token over %s answered %d", carrier, code)
		}
		for _, c := range cases {
			if carrier != "header" && strings.ContainsAny(c.Token, " ,") {
				continue // cannot be carried that way at all
			}
			t.Run(carrier+"/"+c.Name, func(t *testing.T) {
				code, challenge := upgrade(t, url, carrier, c.Token)
				if code != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
					t.Fatalf("upgrade answered %d %q, want 401 invalid_token (%v)", code, challenge, c.Kind)
				}
			})
		}
	}
	if code, _ := upgrade(t, url, "none", ""); code != http.StatusUnauthorized {
		t.Fatalf("upgrade without a token answered %d", code)
	}
}

// A gateway whose JWKS lists the old and the new key accepts tokens of
// both during a rotation, and refuses the old key's once it is retired.
func TestGatewayFollowsKeyRotation(t *testing.T) {
	oldKey, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	user := id.NewUserID()
	oldF, err := authtest.NewForger(oldKey, user, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	newF, err := authtest.NewForger(newKey, user, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	live(t, user, oldF)
	live(t, user, newF)
	during := jwtGateway(t, newKey, oldKey)
	for _, tok := range []string{oldF.Valid(), newF.Valid()} {
		if code, _ := upgrade(t, during, "header", tok); code != http.StatusSwitchingProtocols {
			t.Fatalf("during rotation a token answered %d", code)
		}
	}
	after := jwtGateway(t, newKey)
	if code, _ := upgrade(t, after, "header", newF.Valid()); code != http.StatusSwitchingProtocols {
		t.Fatalf("after retirement the new key's token answered %d", code)
	}
	if code, _ := upgrade(t, after, "header", oldF.Valid()); code != http.StatusUnauthorized {
		t.Fatalf("after retirement the old key's token answered %d", code)
	}
}
