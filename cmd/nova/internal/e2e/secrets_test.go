package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nova-social/nova/cmd/nova/internal/registry"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi/limittest"
	"github.com/nova-social/nova/shared/testrig"
)

// secretRig is a running Nova whose every log line, at debug level, lands
// in logs, started with secrets of the test's own making.
type secretRig struct {
	*rig
	logs       *testrig.Logs
	key        auth.Key
	pem        string
	dbPassword string
	adminName  string
}

func startLogged(t *testing.T) *secretRig {
	t.Helper()
	logs := &testrig.Logs{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Functions log through the default logger they find when they are
	// made, as under nova run.
	prev := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(prev) })

	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := key.MarshalPrivatePEM()
	if err != nil {
		t.Fatal(err)
	}
	// Trust authentication accepts any password, so the URL can carry one
	// that must then never be logged.
	dbPassword := "pg-pass-" + testrig.ID()
	u, err := url.Parse(testrig.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	adminName := "boss_" + testrig.ID()[:8]

	r := startWith(t, system.Config{
		DatabaseURL: u.String(),
		Environ: map[string]string{
			auth.EnvPrivateKey: string(pem),
			"MEDIA_DIR":        t.TempDir(),
		},
		Logger: logger,
	})
	return &secretRig{rig: r, logs: logs, key: key, pem: string(pem), dbPassword: dbPassword, adminName: adminName}
}

// signup registers name with password and logs in.
func (r *secretRig) signup(name, password string) user {
	r.t.Helper()
	u := r.signUp(name, password)
	s := r.must(http.StatusOK, "POST", "/v1/sessions", "", map[string]any{"username": name, "password": password})
	return user{ID: u["id"].(string), Name: name, Token: s["token"].(string)}
}

func (r *secretRig) upload(u user) {
	r.t.Helper()
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		r.t.Fatal(err)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "dot.png")
	_, _ = part.Write(img.Bytes())
	_ = w.Close()
	req, _ := http.NewRequest("POST", r.api+"/v1/media", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+u.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		raw, _ := io.ReadAll(resp.Body)
		r.t.Fatalf("upload: %d %s", resp.StatusCode, raw)
	}
}

// TestSecurityOfTheRunningSystem drives the whole system with its logs
// captured: no secret ever reaches them, and every server of the system
// drops slow and oversized headers.
func TestSecurityOfTheRunningSystem(t *testing.T) {
	r := startLogged(t)

	passwords := map[string]string{
		"alice": "alice-pass-" + testrig.ID(), "bob": "bob-pass-" + testrig.ID(), "admin": "admin-pass-" + testrig.ID(),
	}
	wrongPassword := "wrong-pass-" + testrig.ID()
	admin := r.signup(r.adminName, passwords["admin"])
	r.grantAdmin(admin)
	alice := r.signup("alice_"+testrig.ID()[:8], passwords["alice"])
	bob := r.signup("bob_"+testrig.ID()[:8], passwords["bob"])
	bogus := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2d1cyJ9.bogus-signature-" + testrig.ID()

	t.Run("secrets are never logged", func(t *testing.T) {
		r.rig.t = t
		defer func() { r.rig.t = r.t }()
		r.follow(bob, alice)
		r.post(alice, "hello from alice", "PUBLIC")
		conv := r.must(http.StatusCreated, "POST", "/v1/conversations", alice.Token, map[string]any{"participant_ids": []string{bob.ID}})
		r.must(http.StatusCreated, "POST", "/v1/conversations/"+conv["id"].(string)+"/messages", alice.Token,
			map[string]any{"client_message_id": "s-1", "type": "TEXT", "content": "hi bob"})
		r.upload(alice)
		if code, _ := r.call("POST", "/v1/sessions", "", map[string]any{"username": alice.Name, "password": wrongPassword}); code != http.StatusUnauthorized {
			t.Fatalf("bad login answered %d", code)
		}
		if code, _ := r.call("GET", "/v1/feed", bogus, nil); code != http.StatusUnauthorized {
			t.Fatalf("a bogus token answered %d", code)
		}
		r.must(http.StatusOK, "GET", "/v1/analytics/summary", admin.Token, nil)
		// A websocket with the token in the query string, where a request
		// logger printing URLs would catch it, and a refused one.
		gw := strings.Replace(r.gatewayURL(), "ws://", "http://", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, gw+"?access_token="+url.QueryEscape(bob.Token), nil)
		if err != nil {
			t.Fatalf("websocket: %v", err)
		}
		ws.Close(websocket.StatusNormalClosure, "")
		if _, resp, err := websocket.Dial(ctx, gw+"?access_token="+url.QueryEscape(bogus), nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a bogus websocket token: %v %v", err, resp)
		}
		r.settle()

		out := r.logs.String()
		// The capture works: requests are logged.
		if !strings.Contains(out, `"msg":"request"`) || !strings.Contains(out, `"level":"DEBUG"`) {
			t.Fatalf("the log holds no request lines at debug level; nothing was captured: %.2000s", out)
		}
		secrets := map[string]string{
			"the wrong password":          wrongPassword,
			"the default test password":   "correct horse battery staple",
			"the PostgreSQL password":     r.dbPassword,
			"the JWT private key PEM":     r.pem,
			"the bogus token":             bogus,
			"the bogus token's signature": bogus[strings.LastIndex(bogus, ".")+1:],
		}
		for who, p := range passwords {
			secrets[who+"'s password"] = p
		}
		for who, u := range map[string]user{"alice": alice, "bob": bob, "admin": admin} {
			secrets[who+"'s token"] = u.Token
			secrets[who+"'s Authorization header"] = "Bearer " + u.Token
			secrets[who+"'s token signature"] = u.Token[strings.LastIndex(u.Token, ".")+1:]
			secrets[who+"'s token claims"] = strings.Split(u.Token, ".")[1]
		}
		// The PEM's base64 body, line by line, and the raw private key.
		for i, line := range strings.Split(r.pem, "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				secrets[fmt.Sprintf("line %d of the private key PEM", i+1)] = line
			}
		}
		j, err := r.key.PrivateJWK()
		if err != nil {
			t.Fatal(err)
		}
		secrets["the private key's d"] = j.D
		for name, s := range secrets {
			if s == "" {
				continue
			}
			// JSON escaping may turn characters of a secret into escapes;
			// check the escaped form too.
			esc, _ := json.Marshal(s)
			if strings.Contains(out, s) || strings.Contains(out, strings.Trim(string(esc), `"`)) {
				i := strings.Index(out, s)
				if i < 0 {
					i = strings.Index(out, strings.Trim(string(esc), `"`))
				}
				t.Errorf("%s is in the log: …%s…", name, out[max(0, i-300):min(len(out), i+100)])
			}
		}
	})

	t.Run("every server drops slow and oversized headers", func(t *testing.T) {
		addrs := map[string]string{}
		for _, f := range registry.Functions() {
			u, ok := r.sys.FunctionURL(f.Name)
			if !ok {
				t.Fatalf("%s is not running", f.Name)
			}
			addrs[f.Name] = strings.TrimPrefix(u, "http://")
		}
		m, err := url.Parse(r.sys.MetricsURL())
		if err != nil {
			t.Fatal(err)
		}
		addrs["metrics"] = m.Host
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		for name, addr := range addrs {
			wg.Go(func() {
				// 4000 bytes at 10ms each would take 40s; every server's
				// header timeout is a few seconds.
				res, err := limittest.Check(ctx, addr, "/", 4000, 10*time.Millisecond)
				if err != nil {
					t.Errorf("%s at %s, slow headers: %v", name, addr, err)
					return
				}
				t.Logf("%s: slow headers cut off after %d of %d bytes", name, res.Sent, res.Total)
			})
		}
		wg.Wait()
		// One at a time: fourteen 2 MiB uploads at once under -race can
		// take longer than a server's 2s header timeout on a busy machine,
		// which then drops the connection instead of answering 431.
		for name, addr := range addrs {
			if code, err := limittest.HugeHeader(ctx, addr, "/", 2<<20); err != nil || code != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("%s at %s: a 2 MiB header answered %d (%v), want 431", name, addr, code, err)
			}
		}
	})
}
