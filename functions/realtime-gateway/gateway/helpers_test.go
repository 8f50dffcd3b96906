package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/functions/realtime-gateway/gateway"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/emitter"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// rig is a gateway served over HTTP on real Redis and an in-process Kafka.
type rig struct {
	t        testing.TB
	gw       *gateway.Gateway
	url      string // ws:// base
	signer   *auth.Signer
	presence *presence.Store
	pusher   *push.Pusher
	kafka    *testrig.KafkaBroker
	rdb      *redis.Client
	id       string // the gateway's
	stopRun  func() // ends Run and waits for it
	marks    *session.Marks
	// outsiders answers membership in nova-api's place: every client is
	// in every conversation but the ones marked closed.
	outsiders *outsiders
}

// outsiders stands in for nova-api's answer to "is this client in the
// conversation": yes, but for conversations closed to everyone, and an
// error while down is set.
type outsiders struct {
	closed sync.Map // id.ConversationID → struct{}
	down   atomic.Bool
	asked  atomic.Int64
}

func (o *outsiders) IsMember(_ context.Context, _ string, conv id.ConversationID) (bool, error) {
	o.asked.Add(1)
	if o.down.Load() {
		return false, errors.New("nova-api is down")
	}
	_, closed := o.closed.Load(conv)
	return !closed, nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRig(t testing.TB, tune func(*gateway.Config)) *rig {
	t.Helper()
	rdb := testrig.Redis(t)
	k := testrig.Kafka(t)
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(ks, auth.SignerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ks, auth.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := presence.New(rdb, presence.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	producer, err := kafka.NewProducer(kafka.DefaultProducerConfig(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { producer.Close() })
	// The sessions nova-api marks at login, in a namespace of this test's.
	marks := session.NewMarks(rdb, session.InNamespace(testrig.ID()))
	if err := marks.SetSynced(context.Background()); err != nil {
		t.Fatal(err)
	}
	outsiders := &outsiders{}
	cfg := gateway.Config{
		ID: "gw-" + testrig.ID(), Redis: rdb, Presence: ps, Verifier: verifier, Logger: quiet(), Sessions: marks,
		Members: outsiders,
		Emitter: emitter.NewKafka(envelope.NewCodec(catalog.Default()), producer),
	}
	if tune != nil {
		tune(&cfg)
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := gw.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); gw.Run(ctx, sub) }()
	stopRun := func() { cancel(); <-done }
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		stop, c := context.WithTimeout(context.Background(), 20*time.Second)
		defer c()
		if err := gw.Close(stop); err != nil {
			t.Errorf("close gateway: %v", err)
		}
		cancel()
		<-done
		srv.Close()
	})
	pusher, err := push.NewPusher(rdb, ps)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, gw: gw, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/realtime",
		signer: signer, presence: ps, pusher: pusher, kafka: k, rdb: rdb, id: cfg.ID, stopRun: stopRun, marks: marks,
		outsiders: outsiders}
}

// token logs u in as nova-api does: a token and its session, marked live.
func (r *rig) token(u id.UserID) string {
	r.t.Helper()
	tok, _ := r.session(u)
	return tok
}

// session is token with the session's id.
func (r *rig) session(u id.UserID) (token, sessionID string) {
	r.t.Helper()
	tok, claims, err := r.signer.Issue(auth.Principal{UserID: u, Role: auth.RoleUser})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.marks.Mark(context.Background(), claims.ID, u, claims.Expiry); err != nil {
		r.t.Fatal(err)
	}
	return tok, claims.ID
}

// client is a websocket client of the gateway.
type client struct {
	t    testing.TB
	ws   *websocket.Conn
	conn string // connection id from the hello frame
}

// dial connects as u with the token in the Authorization header and reads
// the hello frame.
func (r *rig) dial(u id.UserID) *client {
	r.t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+r.token(u))
	return r.dialWith(r.url, &websocket.DialOptions{HTTPHeader: h})
}

func (r *rig) dialWith(url string, opts *websocket.DialOptions) *client {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		r.t.Fatalf("dial: %v (%v)", err, resp)
	}
	ws.SetReadLimit(1 << 20)
	c := &client{t: r.t, ws: ws}
	r.t.Cleanup(func() { ws.CloseNow() })
	hello := c.next()
	if hello["type"] != gateway.TypeHello {
		r.t.Fatalf("first frame %v, want hello", hello)
	}
	c.conn = hello["connection_id"].(string)
	return c
}

// next reads one frame.
func (c *client) next() map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("frame %q: %v", data, err)
	}
	return m
}

func (c *client) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after 15s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
