package identity_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/id"
)

func TestHTTPRegisterLoginProfileFollow(t *testing.T) {
	f := setup(t)
	ctx := context.Background()

	// Sign up: the address gets a code, the code makes the account.
	w := f.do(t, call{method: "POST", path: "/v1/users", body: `{"username":"Alice","email":"alice@example.com","password":"hunter2hunter2"}`})
	if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), `"verification_sent"`) {
		t.Fatalf("sign up: %d %s", w.Code, w.Body)
	}
	if n := f.count(t, "users"); n != 0 {
		t.Fatalf("%d users before the code came back", n)
	}
	w = f.do(t, call{method: "POST", path: "/v1/users/verification", body: `{"code":"` + f.code(t, "alice@example.com", 1) + `"}`})
	if w.Code != http.StatusCreated {
		t.Fatalf("verify: %d %s", w.Code, w.Body)
	}
	var alice userBody
	decode(t, w, &alice)
	if _, err := id.ParseUserID(string(alice.ID)); err != nil || alice.Username != "Alice" || alice.Email != "alice@example.com" ||
		alice.DisplayName != "Alice" || alice.AvatarURL != "" || alice.CreatedAt.IsZero() {
		t.Errorf("register answered %+v", alice)
	}
	if loc := w.Header().Get("Location"); loc != "/v1/users/"+string(alice.ID) {
		t.Errorf("Location %q", loc)
	}
	if ev := f.oneEvent(t); ev.Message.(*eventsv1.UserRegistered).UserId != string(alice.ID) {
		t.Errorf("UserRegistered for %v", ev.Message)
	}
	bob := f.register(t, "bob")
	f.clearOutbox(t)

	// Log in, by username and by email.
	var tok tokenBody
	for _, body := range []string{
		`{"username":"alice","password":"hunter2hunter2"}`,
		`{"email":"ALICE@example.com","password":"hunter2hunter2"}`,
	} {
		w = f.do(t, call{method: "POST", path: "/v1/sessions", body: body})
		if w.Code != http.StatusOK {
			t.Fatalf("login %s: %d %s", body, w.Code, w.Body)
		}
		decode(t, w, &tok)
		if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("login answered %+v, Cache-Control %q", tok, w.Header().Get("Cache-Control"))
		}
		claims, err := f.verifier.Verify(ctx, tok.Token)
		if err != nil || claims.Subject != alice.ID || claims.Role != auth.RoleUser {
			t.Errorf("token: %+v, %v", claims, err)
		}
	}

	// The JWKS holds the key the token is signed with.
	w = f.do(t, call{method: "GET", path: "/v1/.well-known/jwks.json"})
	var jwks auth.JWKS
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &jwks) != nil || len(jwks.Keys) != 1 {
		t.Fatalf("jwks: %d %s", w.Code, w.Body)
	}
	claims, _ := f.verifier.Verify(ctx, tok.Token)
	if jwks.Keys[0].Kid != claims.KeyID {
		t.Errorf("JWKS kid %q, token kid %q", jwks.Keys[0].Kid, claims.KeyID)
	}

	// Profiles: one's own shows the email, someone else's does not.
	w = f.do(t, call{method: "GET", path: "/v1/users/me", token: tok.Token})
	var me userBody
	decode(t, w, &me)
	if w.Code != http.StatusOK || me.ID != alice.ID || me.Email != "alice@example.com" || me.FollowersCount == nil {
		t.Errorf("GET me: %d %+v", w.Code, me)
	}
	w = f.do(t, call{method: "GET", path: "/v1/users/" + string(bob.ID), token: tok.Token})
	var other userBody
	decode(t, w, &other)
	if w.Code != http.StatusOK || other.ID != bob.ID || other.Username != "bob" || other.Email != "" {
		t.Errorf("GET bob: %d %+v", w.Code, other)
	}

	// Update the profile.
	w = f.do(t, call{method: "PATCH", path: "/v1/users/me", token: tok.Token,
		body: `{"display_name":"Alice Liddell","avatar_url":"https://cdn.example.com/alice.png","username":null}`})
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH me: %d %s", w.Code, w.Body)
	}
	decode(t, w, &me)
	if me.DisplayName != "Alice Liddell" || me.AvatarURL != "https://cdn.example.com/alice.png" || me.Username != "Alice" {
		t.Errorf("PATCH me answered %+v", me)
	}
	upd := f.oneEvent(t).Message.(*eventsv1.UserProfileUpdated)
	if upd.UserId != string(alice.ID) || upd.GetDisplayName() != "Alice Liddell" || upd.Username != nil ||
		upd.GetAvatarUrl() != "https://cdn.example.com/alice.png" {
		t.Errorf("UserProfileUpdated = %v", upd)
	}
	f.clearOutbox(t)

	// Follow twice: 204 both times, one event.
	for range 2 {
		w = f.do(t, call{method: "POST", path: "/v1/users/" + string(bob.ID) + "/follow", token: tok.Token})
		if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
			t.Errorf("follow: %d %s", w.Code, w.Body)
		}
	}
	ev := f.oneEvent(t)
	checkEnvelope(t, ev, "com.nova.identity.user.followed", string(alice.ID), string(bob.ID))
	if fol := ev.Message.(*eventsv1.UserFollowed); fol.FollowerId != string(alice.ID) || fol.FolloweeId != string(bob.ID) {
		t.Errorf("UserFollowed = %v", fol)
	}
	w = f.do(t, call{method: "GET", path: "/v1/users/" + string(bob.ID), token: tok.Token})
	decode(t, w, &other)
	if *other.FollowersCount != 1 || *other.FollowingCount != 0 {
		t.Errorf("bob's counts: %d followers, %d following", *other.FollowersCount, *other.FollowingCount)
	}
	f.clearOutbox(t)

	// Unfollow twice: 204 both times, one event.
	for range 2 {
		w = f.do(t, call{method: "DELETE", path: "/v1/users/" + string(bob.ID) + "/follow", token: tok.Token})
		if w.Code != http.StatusNoContent {
			t.Errorf("unfollow: %d %s", w.Code, w.Body)
		}
	}
	ev = f.oneEvent(t)
	checkEnvelope(t, ev, "com.nova.identity.user.unfollowed", string(alice.ID), string(bob.ID))
	checkFollows(t, f, alice.ID, bob.ID, false)
}

// TestHTTPBadInput sends every kind of bad request and checks each gets its
// 4xx with a JSON error, and that none of them wrote a row or an event.
func TestHTTPBadInput(t *testing.T) {
	f := setup(t)
	alice, bob := f.register(t, "alice"), f.register(t, "bob")
	tok := f.token(t, "alice")
	f.clearOutbox(t)
	before, _ := f.svc.Get(context.Background(), alice.ID)

	// Tokens that must not get in.
	expiredSigner, err := auth.NewSigner(f.keys, auth.SignerConfig{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := expiredSigner.Issue(auth.Principal{UserID: alice.ID, Role: auth.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := auth.GenerateKey()
	otherKeys, _ := auth.NewKeySet(otherKey)
	forger, _ := auth.NewSigner(otherKeys, auth.SignerConfig{})
	forged, _, err := forger.Issue(auth.Principal{UserID: alice.ID, Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	// Same kid, claims rewritten (role admin), original signature kept.
	parts := strings.Split(tok, ".")
	payload, _ := json.Marshal(map[string]any{"iss": "nova-identity", "sub": string(alice.ID), "aud": "nova",
		"iat": time.Now().Unix(), "nbf": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "jti": "x", "role": "admin"})
	tampered := parts[0] + "." + b64(payload) + "." + parts[2]

	bobPath := "/v1/users/" + string(bob.ID)
	ghostPath := "/v1/users/" + string(id.NewUserID())
	textPlain := "text/plain"
	big := `{"username":"carol","email":"carol@example.com","password":"` + strings.Repeat("p", 20<<10) + `"}`

	cases := []struct {
		name   string
		c      call
		status int
		code   string
	}{
		// POST /v1/users
		{"register malformed JSON", call{method: "POST", path: "/v1/users", body: `{"username":"carol",`}, 400, "invalid_json"},
		{"register not JSON", call{method: "POST", path: "/v1/users", body: `username=carol`}, 400, "invalid_json"},
		{"register unknown field", call{method: "POST", path: "/v1/users", body: `{"username":"carol","email":"carol@example.com","password":"not a common one","role":"admin"}`}, 400, "invalid_json"},
		{"register wrong type", call{method: "POST", path: "/v1/users", body: `{"username":7,"email":"carol@example.com","password":"not a common one"}`}, 400, "invalid_json"},
		{"register two values", call{method: "POST", path: "/v1/users", body: `{"username":"carol","email":"carol@example.com","password":"not a common one"}{}`}, 400, "invalid_json"},
		{"register array", call{method: "POST", path: "/v1/users", body: `[]`}, 400, "invalid_json"},
		{"register empty body", call{method: "POST", path: "/v1/users", ct: ptr("application/json")}, 400, "invalid_json"},
		{"register wrong content type", call{method: "POST", path: "/v1/users", body: `{"username":"carol","email":"carol@example.com","password":"not a common one"}`, ct: &textPlain}, 415, "unsupported_media_type"},
		{"register oversized body", call{method: "POST", path: "/v1/users", body: big}, 413, "payload_too_large"},
		{"register missing password", call{method: "POST", path: "/v1/users", body: `{"username":"carol","email":"carol@example.com"}`}, 400, "validation_failed"},
		{"register missing username", call{method: "POST", path: "/v1/users", body: `{"email":"carol@example.com","password":"not a common one"}`}, 400, "validation_failed"},
		{"register short username", call{method: "POST", path: "/v1/users", body: `{"username":"ca","email":"carol@example.com","password":"not a common one"}`}, 400, "validation_failed"},
		{"register bad username", call{method: "POST", path: "/v1/users", body: `{"username":"carol!","email":"carol@example.com","password":"not a common one"}`}, 400, "validation_failed"},
		{"register bad email", call{method: "POST", path: "/v1/users", body: `{"username":"carol","email":"carol","password":"not a common one"}`}, 400, "validation_failed"},
		{"register short password", call{method: "POST", path: "/v1/users", body: `{"username":"carol","email":"carol@example.com","password":"short"}`}, 400, "validation_failed"},
		{"register long password", call{method: "POST", path: "/v1/users", body: `{"username":"carol","email":"carol@example.com","password":"` + strings.Repeat("p", 257) + `"}`}, 400, "validation_failed"},
		{"register taken username", call{method: "POST", path: "/v1/users", body: `{"username":"ALICE","email":"carol@example.com","password":"not a common one"}`}, 409, "username_taken"},
		{"verify without a code", call{method: "POST", path: "/v1/users/verification", body: `{}`}, 400, "validation_failed"},
		{"verify a made-up code", call{method: "POST", path: "/v1/users/verification", body: `{"code":"` + strings.Repeat("A", 43) + `"}`}, 400, "invalid_verification_code"},
		{"verify a malformed code", call{method: "POST", path: "/v1/users/verification", body: `{"code":"../../etc"}`}, 400, "invalid_verification_code"},

		// POST /v1/sessions
		{"login wrong password", call{method: "POST", path: "/v1/sessions", body: `{"username":"alice","password":"wrong password"}`}, 401, "invalid_credentials"},
		{"login unknown user", call{method: "POST", path: "/v1/sessions", body: `{"username":"mallory","password":"correct horse alice"}`}, 401, "invalid_credentials"},
		{"login unknown email", call{method: "POST", path: "/v1/sessions", body: `{"email":"mallory@example.com","password":"correct horse alice"}`}, 401, "invalid_credentials"},
		{"login missing password", call{method: "POST", path: "/v1/sessions", body: `{"username":"alice"}`}, 400, "validation_failed"},
		{"login missing user", call{method: "POST", path: "/v1/sessions", body: `{"password":"correct horse alice"}`}, 400, "validation_failed"},
		{"login username and email", call{method: "POST", path: "/v1/sessions", body: `{"username":"alice","email":"alice@example.com","password":"correct horse alice"}`}, 400, "validation_failed"},
		{"login unknown field", call{method: "POST", path: "/v1/sessions", body: `{"username":"alice","password":"correct horse alice","remember":true}`}, 400, "invalid_json"},
		{"login malformed", call{method: "POST", path: "/v1/sessions", body: `{"username":`}, 400, "invalid_json"},

		// GET /v1/users/{id}
		{"get without token", call{method: "GET", path: bobPath}, 401, "unauthorized"},
		{"get expired token", call{method: "GET", path: bobPath, token: expired}, 401, "unauthorized"},
		{"get forged token", call{method: "GET", path: bobPath, token: forged}, 401, "unauthorized"},
		{"get tampered token", call{method: "GET", path: bobPath, token: tampered}, 401, "unauthorized"},
		{"get garbage token", call{method: "GET", path: bobPath, token: "not.a.jwt"}, 401, "unauthorized"},
		{"get bad id", call{method: "GET", path: "/v1/users/42", token: tok}, 400, "invalid_id"},
		{"get upper-case id", call{method: "GET", path: "/v1/users/" + strings.ToUpper(string(bob.ID)), token: tok}, 400, "invalid_id"},
		{"get unknown user", call{method: "GET", path: ghostPath, token: tok}, 404, "not_found"},

		// PATCH /v1/users/me
		{"patch without token", call{method: "PATCH", path: "/v1/users/me", body: `{"display_name":"x"}`}, 401, "unauthorized"},
		{"patch expired token", call{method: "PATCH", path: "/v1/users/me", token: expired, body: `{"display_name":"x"}`}, 401, "unauthorized"},
		{"patch forged token", call{method: "PATCH", path: "/v1/users/me", token: forged, body: `{"display_name":"x"}`}, 401, "unauthorized"},
		{"patch malformed", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"display_name":`}, 400, "invalid_json"},
		{"patch unknown field", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"display_name":"x","email":"x@example.com"}`}, 400, "invalid_json"},
		{"patch oversized", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"display_name":"` + strings.Repeat("x", 20<<10) + `"}`}, 413, "payload_too_large"},
		{"patch javascript avatar", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"avatar_url":"javascript:alert(1)"}`}, 400, "validation_failed"},
		{"patch ftp avatar", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"avatar_url":"ftp://example.com/a.png"}`}, 400, "validation_failed"},
		{"patch relative avatar", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"avatar_url":"a.png"}`}, 400, "validation_failed"},
		{"patch long display name", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"display_name":"` + strings.Repeat("x", 65) + `"}`}, 400, "validation_failed"},
		{"patch right-to-left override", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"display_name":"admin\u202egnp.exe"}`}, 400, "validation_failed"},
		{"patch zero-width space", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"display_name":"Al\u200bice"}`}, 400, "validation_failed"},
		{"patch bad username", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"username":"a b"}`}, 400, "validation_failed"},
		{"patch taken username", call{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"username":"Bob","display_name":"changed"}`}, 409, "username_taken"},

		// POST and DELETE /v1/users/{id}/follow
		{"follow without token", call{method: "POST", path: bobPath + "/follow"}, 401, "unauthorized"},
		{"follow expired token", call{method: "POST", path: bobPath + "/follow", token: expired}, 401, "unauthorized"},
		{"follow forged token", call{method: "POST", path: bobPath + "/follow", token: forged}, 401, "unauthorized"},
		{"follow tampered token", call{method: "POST", path: bobPath + "/follow", token: tampered}, 401, "unauthorized"},
		{"follow yourself", call{method: "POST", path: "/v1/users/" + string(alice.ID) + "/follow", token: tok}, 422, "cannot_follow_self"},
		{"follow bad id", call{method: "POST", path: "/v1/users/nobody/follow", token: tok}, 400, "invalid_id"},
		{"follow unknown user", call{method: "POST", path: ghostPath + "/follow", token: tok}, 404, "not_found"},
		{"unfollow without token", call{method: "DELETE", path: bobPath + "/follow"}, 401, "unauthorized"},
		{"unfollow forged token", call{method: "DELETE", path: bobPath + "/follow", token: forged}, 401, "unauthorized"},
		{"unfollow yourself", call{method: "DELETE", path: "/v1/users/" + string(alice.ID) + "/follow", token: tok}, 422, "cannot_follow_self"},
		{"unfollow bad id", call{method: "DELETE", path: "/v1/users/nobody/follow", token: tok}, 400, "invalid_id"},
		{"unfollow unknown user", call{method: "DELETE", path: ghostPath + "/follow", token: tok}, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(t, tc.c)
			var e errorBody
			decode(t, w, &e)
			if w.Code != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("%s %s: %d %+v, want %d %s", tc.c.method, tc.c.path, w.Code, e.Error, tc.status, tc.code)
			}
			if w.Code == http.StatusUnauthorized && tc.code == "unauthorized" && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}

	// Nothing was written and nothing was emitted.
	f.noEvents(t)
	if n := f.count(t, "users"); n != 2 {
		t.Errorf("%d users, want 2", n)
	}
	if n := f.count(t, "follows"); n != 0 {
		t.Errorf("%d follows, want 0", n)
	}
	if after, _ := f.svc.Get(context.Background(), alice.ID); after != before {
		t.Errorf("alice changed: %+v → %+v", before, after)
	}
}

// TestHTTPMountedWithoutAuthenticationFailsClosed: should the routes be
// mounted with a middleware that lets everyone through, the authed
// endpoints still refuse callers without a principal.
func TestHTTPMountedWithoutAuthenticationFailsClosed(t *testing.T) {
	f := setup(t)
	bob := f.register(t, "bob")
	f.clearOutbox(t)
	mux := http.NewServeMux()
	f.svc.Mount(mux, func(h http.Handler) http.Handler { return h })
	f.handler = mux
	for _, c := range []call{
		{method: "GET", path: "/v1/users/me"},
		{method: "PATCH", path: "/v1/users/me", body: `{"display_name":"x"}`},
		{method: "POST", path: "/v1/users/" + string(bob.ID) + "/follow"},
	} {
		if w := f.do(t, c); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a principal: %d", c.method, c.path, w.Code)
		}
	}
	f.noEvents(t)
}
