package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Ending a session ends it everywhere, on the running system: logout makes
// the token a 401 at nova-api at once and closes its websocket at the
// realtime gateway (1008 "session ended") within the gateway's check
// interval, while another session of the same user lives on; a password
// change ends every session; a role revoked with nova admin is gone from
// the user's next request, on the token they hold.
func TestSessionsEndEverywhere(t *testing.T) {
	r := start(t)
	alice := r.register("alice")
	phone := r.login(alice)
	socket := r.connect(alice) // on alice's first token

	r.must(http.StatusNoContent, "DELETE", "/v1/sessions/current", alice.Token, nil)
	if code, _ := r.call("GET", "/v1/users/me", alice.Token, nil); code != http.StatusUnauthorized {
		t.Fatalf("the logged-out token at nova-api: %d, want 401", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, _, err := socket.ws.Read(ctx)
		if err == nil {
			continue // a push that was on its way
		}
		if s := websocket.CloseStatus(err); s != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "session ended") {
			t.Fatalf("the logged-out session's websocket: %v, want close 1008 session ended", err)
		}
		break
	}
	if _, resp, err := websocket.Dial(ctx, r.gatewayURL(), &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + alice.Token}}}); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a handshake with the logged-out token: %v %v, want 401", err, resp)
	}
	if code, _ := r.call("GET", "/v1/users/me", phone, nil); code != http.StatusOK {
		t.Fatalf("alice's other session after the logout: %d", code)
	}

	// A password change ends the phone's session too, and hands back a
	// token that works.
	out := r.must(http.StatusOK, "PUT", "/v1/users/me/password", phone, map[string]any{
		"current_password": "correct horse battery staple", "new_password": "a wholly new horse battery"})
	if code, _ := r.call("GET", "/v1/users/me", phone, nil); code != http.StatusUnauthorized {
		t.Errorf("the phone's token after the password change: %d, want 401", code)
	}
	fresh := alice
	fresh.Token = out["token"].(string)
	r.connect(fresh)

	// Roles by id, taken back on the next request.
	r.grantAdmin(fresh)
	r.must(http.StatusOK, "GET", "/v1/moderation/queue", fresh.Token, nil)
	r.revokeAdmin(fresh)
	r.must(http.StatusForbidden, "GET", "/v1/moderation/queue", fresh.Token, nil)
}
