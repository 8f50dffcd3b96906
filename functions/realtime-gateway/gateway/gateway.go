// Package gateway is the realtime gateway: it holds users' websocket
// connections, tracks their presence, writes the frames pushed to them and
// turns messages they type into ChatMessageSubmitted events.
//
// # Connections
//
// GET /v1/realtime (or /ws) upgrades to a websocket once the bearer token
// verifies against the public keys (the Authorization header, or a
// "bearer.<token>" subprotocol offered beside "nova.v1"; the access_token
// query parameter is deprecated, answered with a Deprecation header, and
// refused with Config.RefuseQueryToken, since proxies log URLs). The connection is closed with 1008 when the token
// expires. Each connection has a bounded send queue drained by its own
// writer; pushing never blocks on a connection, and a connection whose queue
// is full is closed (1008 "send queue full") so a slow client cannot hold up
// the others. Its client reconnects and reads what it missed from the
// history endpoint.
//
// # Presence
//
// A connection is recorded in shared/domain/presence on open, refreshed after
// every successful ping (every PingInterval), and removed on close. A
// replica that dies leaves entries that expire with the presence TTL.
//
// # Pushes
//
// The gateway subscribes to its own Redis channel, gateway:{ID} (see
// shared/domain/push), and writes each Delivery's frame to every open connection
// of the users it names, in the order the deliveries arrive.
//
// # Typed messages
//
// A "message" frame is checked for shape only and emitted as
// ChatMessageSubmitted on realtime-chat (key conversation_id); the gateway
// has no database, so whether the sender takes part in the conversation is
// decided by chat-persist, which stores only participants' messages and
// dead-letters the rest. The "ack" frame therefore means "accepted for
// storing", answered the same whether or not the conversation exists, so it
// reveals nothing; the stored message reaches the other participants as a
// "message" frame and the sender's history.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/push"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/ratelimit"
)

// Gateway is one replica. It is safe for concurrent use.
type Gateway struct {
	cfg     Config
	handler http.Handler // serve behind httpapi.ClientIP

	ctx    context.Context // ends when the gateway closes
	cancel context.CancelFunc

	// closing and conns change together under life, so that Close cannot
	// miss a connection accepted while it starts waiting.
	life    sync.Mutex
	closing bool
	conns   sync.WaitGroup // connection handlers

	mu    sync.RWMutex
	users map[id.UserID]map[*conn]struct{}

	delivered atomic.Uint64
	dropped   atomic.Uint64
	opened    atomic.Uint64
	repeated  atomic.Uint64
}

// Stats are the gateway's counters.
type Stats struct {
	Connections int
	Users       int
	// Delivered counts frames queued to connections, Dropped connections
	// closed because their queue was full, Opened connections accepted,
	// Repeated message frames not sent again to a connection that had them.
	Delivered, Dropped, Opened, Repeated uint64
}

// New returns a gateway; Run subscribes it to its channel.
func New(cfg Config) (*Gateway, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{cfg: cfg, ctx: ctx, cancel: cancel, users: map[id.UserID]map[*conn]struct{}{}}
	// The client address keys the handshake budget.
	g.handler = httpapi.ClientIP(cfg.TrustedProxies)(http.HandlerFunc(g.serve))
	return g, nil
}

// ID is the replica's id.
func (g *Gateway) ID() string { return g.cfg.ID }

// Stats returns the current counters.
func (g *Gateway) Stats() Stats {
	g.mu.RLock()
	s := Stats{Users: len(g.users)}
	for _, cs := range g.users {
		s.Connections += len(cs)
	}
	g.mu.RUnlock()
	s.Delivered, s.Dropped, s.Opened = g.delivered.Load(), g.dropped.Load(), g.opened.Load()
	s.Repeated = g.repeated.Load()
	return s
}

// Subscribe subscribes to the gateway's channel and returns once Redis
// confirmed, so pushes published afterwards are heard, and sets the
// gateway's alive mark; Run then delivers them and keeps the mark.
func (g *Gateway) Subscribe(ctx context.Context) (*redis.PubSub, error) {
	sub := g.cfg.Redis.Subscribe(ctx, push.Channel(g.cfg.ID))
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return nil, fmt.Errorf("gateway: subscribe %s: %w", push.Channel(g.cfg.ID), err)
	}
	g.markAlive(ctx)
	return sub, nil
}

// Run delivers what arrives on sub until ctx ends or the gateway closes.
// go-redis resubscribes by itself after a lost connection. While it runs the
// gateway keeps its alive mark (push.MarkAlive), so a push that finds it
// not listening is retried rather than written off; the mark is removed
// when Run ends.
func (g *Gateway) Run(ctx context.Context, sub *redis.PubSub) error {
	defer sub.Close()
	defer func() {
		// The run's contexts are over; removing the mark gets a moment of
		// its own.
		mctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := push.MarkGone(mctx, g.cfg.Redis, g.cfg.ID); err != nil {
			g.cfg.Logger.Warn("alive mark not removed; it expires", "error", err)
		}
	}()
	refresh := time.NewTicker(push.AliveTTL / 5)
	defer refresh.Stop()
	sessions := time.NewTicker(g.cfg.SessionCheck)
	defer sessions.Stop()
	ch := sub.Channel(redis.WithChannelSize(4096))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-g.ctx.Done():
			return nil
		case <-refresh.C:
			g.markAlive(ctx)
		case <-sessions.C:
			g.closeEnded(ctx)
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			var d push.Delivery
			if err := json.Unmarshal([]byte(m.Payload), &d); err != nil {
				g.cfg.Logger.Warn("undecodable push", "error", err)
				continue
			}
			g.deliverTraced(ctx, d)
		}
	}
}

// admit spends the handshake budgets of the account and the client
// address and refuses an account already holding its most websockets
// (counted across replicas in presence). Redis failing admits: presence
// will refuse the connection if Redis is really gone.
func (g *Gateway) admit(r *http.Request, user id.UserID) *httpapi.Error {
	l := g.cfg.Limiter
	if l == nil {
		return nil
	}
	ctx := r.Context()
	keys := []string{"user:" + user.String()}
	if ip := httpapi.ClientIPFrom(ctx); ip.IsValid() {
		keys = append(keys, "ip:"+ip.String())
	}
	for _, k := range keys {
		res, err := l.Allow(ctx, g.cfg.Limits.ConnectPolicy(), k)
		if err != nil {
			g.cfg.Logger.Warn("handshake rate limit not checked", "error", err)
			continue
		}
		if !res.Allowed {
			return ratelimit.Refusal(res)
		}
	}
	conns, err := g.cfg.Presence.Connections(ctx, user)
	if err == nil && len(conns) >= g.cfg.Limits.MaxSockets {
		return httpapi.NewError(http.StatusTooManyRequests, ratelimit.CodeRateLimited,
			fmt.Sprintf("at most %d websockets may be open at once; close one first", g.cfg.Limits.MaxSockets)).
			WithHeader("Retry-After", "10")
	}
	return nil
}

// closeEnded closes the connections whose session has ended (1008,
// "session ended"). When the marks cannot be read or are incomplete nothing
// is closed: an open connection is not ended on a guess.
func (g *Gateway) closeEnded(ctx context.Context) {
	g.mu.RLock()
	var conns []*conn
	for _, cs := range g.users {
		for c := range cs {
			conns = append(conns, c)
		}
	}
	g.mu.RUnlock()
	if len(conns) == 0 {
		return
	}
	ids := make([]string, len(conns))
	for i, c := range conns {
		ids[i] = c.session
	}
	cctx, cancel := context.WithTimeout(ctx, g.cfg.SessionCheck)
	defer cancel()
	owners, err := g.cfg.Sessions.Owners(cctx, ids...)
	if err != nil {
		g.cfg.Logger.Debug("sessions not checked", "error", err)
		return
	}
	for i, c := range conns {
		if owners[i] != c.user {
			c.closeWith(websocket.StatusPolicyViolation, "session ended")
		}
	}
}

// Deliver queues d's frame on every open connection of d's users here,
// except a message frame the connection was already sent.
func (g *Gateway) Deliver(d push.Delivery) {
	frame := []byte(d.Frame)
	msg := messageID(frame)
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, u := range d.UserIDs {
		for c := range g.users[u] {
			if msg != "" && !c.sent.add(msg) {
				g.repeated.Add(1)
				continue
			}
			c.enqueue(frame)
		}
	}
}

// Close closes every connection (1001, going away) and waits for their
// handlers to finish their clean-up, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	g.life.Lock()
	g.closing = true
	g.life.Unlock()
	g.cancel()
	done := make(chan struct{})
	go func() { g.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: connections still closing: %w", ctx.Err())
	}
}

// enter counts a connection handler in, unless the gateway is closing.
func (g *Gateway) enter() bool {
	g.life.Lock()
	defer g.life.Unlock()
	if g.closing {
		return false
	}
	g.conns.Add(1)
	return true
}

func (g *Gateway) add(c *conn) {
	g.mu.Lock()
	cs := g.users[c.user]
	if cs == nil {
		cs = map[*conn]struct{}{}
		g.users[c.user] = cs
	}
	cs[c] = struct{}{}
	g.mu.Unlock()
}

func (g *Gateway) remove(c *conn) {
	g.mu.Lock()
	if cs := g.users[c.user]; cs != nil {
		delete(cs, c)
		if len(cs) == 0 {
			delete(g.users, c.user)
		}
	}
	g.mu.Unlock()
}

// QueryTokenDeprecation is the Deprecation header (RFC 9745) answering a
// handshake whose token came in the URL: deprecated since 2026-12-07.
const QueryTokenDeprecation = "@1796601600"

// token finds the bearer token of an upgrade request; inQuery says it came
// in the deprecated access_token query parameter.
func token(r *http.Request) (tok string, inQuery, ok bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) != "" {
			return strings.TrimSpace(tok), false, true
		}
		return "", false, false
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if tok, ok := strings.CutPrefix(strings.TrimSpace(p), bearerProtocolPrefix); ok && tok != "" {
				return tok, false, true
			}
		}
	}
	if tok := r.URL.Query().Get("access_token"); tok != "" {
		return tok, true, true
	}
	return "", false, false
}

// ServeHTTP authenticates an upgrade request, upgrades it and serves the
// connection until it closes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	log := g.cfg.Logger
	if g.ctx.Err() != nil {
		httpapi.WriteError(w, r, log, httpapi.Unavailable("gateway is shutting down"))
		return
	}
	tok, inQuery, ok := token(r)
	if ok && inQuery && g.cfg.RefuseQueryToken {
		httpapi.WriteError(w, r, log, httpapi.Unauthorized("a token in the URL is refused: send it in the Authorization header or as the \"bearer.<token>\" subprotocol").
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`", error="invalid_request"`))
		return
	}
	if !ok {
		httpapi.WriteError(w, r, log, httpapi.Unauthorized("a bearer token is required").
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`"`))
		return
	}
	if inQuery {
		w.Header().Set("Deprecation", QueryTokenDeprecation)
	}
	claims, err := g.cfg.Verifier.Verify(r.Context(), tok)
	if err != nil {
		if errors.Is(err, auth.ErrKeysUnavailable) {
			httpapi.WriteError(w, r, log, httpapi.Unavailable("keys unavailable").Wrap(err))
			return
		}
		httpapi.WriteError(w, r, log, httpapi.Unauthorized("invalid token").Wrap(err).
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`", error="invalid_token"`))
		return
	}
	alive, err := g.cfg.Sessions.Alive(r.Context(), claims.Subject, claims.ID)
	switch {
	case err != nil:
		// Redis away, or its marks not yet rewritten after it lost them:
		// the token may well be fine, so the client retries.
		httpapi.WriteError(w, r, log, httpapi.Unavailable("sessions cannot be checked, try again").Wrap(err))
		return
	case !alive[0]:
		httpapi.WriteError(w, r, log, httpapi.Unauthorized("the session has ended, log in again").
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`", error="invalid_token"`))
		return
	}
	if err := g.admit(r, claims.Subject); err != nil {
		httpapi.WriteError(w, r, log, err)
		return
	}
	// A request that is no websocket handshake gets the JSON error every
	// other refusal gets, rather than the websocket library's plain text.
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket") {
		httpapi.WriteError(w, r, log, httpapi.NewError(http.StatusUpgradeRequired, httpapi.CodeBadRequest,
			"this endpoint only upgrades to a websocket").WithHeader("Upgrade", "websocket").WithHeader("Connection", "Upgrade"))
		return
	}
	if !g.enter() {
		httpapi.WriteError(w, r, log, httpapi.Unavailable("gateway is shutting down"))
		return
	}
	defer g.conns.Done()
	// The server's read and write timeouts (func-go sets 30s) stay on a
	// hijacked connection; a websocket lives longer, and its own writes
	// carry deadlines. Not every ResponseWriter supports this (tests).
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    []string{Subprotocol},
		OriginPatterns:  g.cfg.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled, // per-connection flate state costs more memory than small frames save
	})
	if err != nil {
		log.Debug("websocket upgrade failed", "error", err)
		return // Accept answered the request
	}
	ws.SetReadLimit(g.cfg.MaxMessageBytes)
	c := newConn(g, ws, claims.Subject, claims.ID, tok, claims.Expiry)
	c.serve()
}

// markAlive refreshes the alive mark; a failure (Redis away) is retried at
// the next tick, and the mark outlives a few of those.
func (g *Gateway) markAlive(ctx context.Context) {
	mctx, cancel := context.WithTimeout(ctx, push.AliveTTL/5)
	defer cancel()
	if err := push.MarkAlive(mctx, g.cfg.Redis, g.cfg.ID); err != nil {
		g.cfg.Logger.Debug("alive mark not refreshed", "error", err)
	}
}

// headerHas reports whether a comma-separated header lists token
// (case-insensitive).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func newConnID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand cannot fail since Go 1.24
	return hex.EncodeToString(b)
}
