package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/coder/websocket"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/functions/realtime-gateway/gateway"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/ratelimit"
	"github.com/nova-social/nova/shared/testrig"
)

func TestUpgradeNeedsAValidToken(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	for name, opts := range map[string]*websocket.DialOptions{
		"none":    nil,
		"garbage": {HTTPHeader: http.Header{"Authorization": {"Bearer not.a.token"}}},
		"basic":   {HTTPHeader: http.Header{"Authorization": {"Basic dTpw"}}},
	} {
		_, resp, err := websocket.Dial(ctx, r.url, opts)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: err %v, response %v; want 401", name, err, resp)
		}
	}
}

func TestTokenByQueryAndBySubprotocol(t *testing.T) {
	r := newRig(t, nil)
	u := id.NewUserID()
	q := r.dialWith(r.url+"?access_token="+url.QueryEscape(r.token(u)), nil)
	p := r.dialWith(r.url, &websocket.DialOptions{Subprotocols: []string{gateway.Subprotocol, "bearer." + r.token(u)}})
	if got := p.ws.Subprotocol(); got != gateway.Subprotocol {
		t.Fatalf("selected subprotocol %q, want %q (never the token)", got, gateway.Subprotocol)
	}
	eventually(t, "two connections", func() bool { return r.gw.Stats().Connections == 2 })
	_ = q
}

// A token in the URL, where proxies log it, is still taken but answered
// with a Deprecation header; with RefuseQueryToken it is a 401 while the
// header and the subprotocol still work.
func TestQueryTokenIsDeprecatedAndCanBeRefused(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	u := id.NewUserID()
	ws, resp, err := websocket.Dial(ctx, r.url+"?access_token="+url.QueryEscape(r.token(u)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.CloseNow()
	if got := resp.Header.Get("Deprecation"); got != gateway.QueryTokenDeprecation {
		t.Errorf("a token in the URL answered with Deprecation %q, want %q", got, gateway.QueryTokenDeprecation)
	}
	ws, resp, err = websocket.Dial(ctx, r.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + r.token(u)}}})
	if err != nil {
		t.Fatal(err)
	}
	ws.CloseNow()
	if got := resp.Header.Get("Deprecation"); got != "" {
		t.Errorf("a token in the header answered with Deprecation %q", got)
	}

	strict := newRig(t, func(c *gateway.Config) { c.RefuseQueryToken = true })
	_, resp, err = websocket.Dial(ctx, strict.url+"?access_token="+url.QueryEscape(strict.token(u)), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token in the URL with RefuseQueryToken: err %v, response %v; want 401", err, resp)
	}
	strict.dialWith(strict.url, &websocket.DialOptions{Subprotocols: []string{gateway.Subprotocol, "bearer." + strict.token(u)}})
}

func TestPresenceFollowsConnections(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	u := id.NewUserID()
	phone, laptop := r.dial(u), r.dial(u)
	conns, err := r.presence.Connections(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 2 || conns[0].GatewayID != r.gw.ID() {
		t.Fatalf("presence = %+v", conns)
	}
	phone.ws.Close(websocket.StatusNormalClosure, "bye")
	eventually(t, "phone gone from presence", func() bool {
		cs, _ := r.presence.Connections(ctx, u)
		return len(cs) == 1 && cs[0].ID == laptop.conn
	})
	laptop.ws.Close(websocket.StatusNormalClosure, "bye")
	eventually(t, "user offline", func() bool {
		on, _ := r.presence.Online(ctx, u)
		return !on
	})
}

func TestHeartbeatRefreshesPresence(t *testing.T) {
	r := newRig(t, func(c *gateway.Config) { c.PingInterval = 20 * time.Millisecond })
	ctx := context.Background()
	u := id.NewUserID()
	cl := r.dial(u)
	// A client answers pings while it reads, as browsers always do.
	go cl.ws.Read(ctx)
	first, err := r.presence.Connections(ctx, u)
	if err != nil || len(first) != 1 {
		t.Fatalf("presence %v %v", first, err)
	}
	eventually(t, "expiry pushed forward by a ping", func() bool {
		cs, _ := r.presence.Connections(ctx, u)
		return len(cs) == 1 && cs[0].ExpiresAt.After(first[0].ExpiresAt)
	})
}

func TestPushReachesEveryDeviceOfEachUser(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	a, b, c := id.NewUserID(), id.NewUserID(), id.NewUserID()
	a1, a2, b1, c1 := r.dial(a), r.dial(a), r.dial(b), r.dial(c)
	offline := id.NewUserID()
	for i := range 3 {
		res, err := r.pusher.Push(ctx, []id.UserID{a, b, offline}, []byte(fmt.Sprintf(`{"type":"message","n":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Online) != 2 || res.Gateways != 1 {
			t.Fatalf("push result %+v", res)
		}
	}
	for name, cl := range map[string]*client{"a1": a1, "a2": a2, "b1": b1} {
		for i := range 3 {
			if f := cl.next(); f["n"] != float64(i) {
				t.Fatalf("%s frame %d = %v (order lost?)", name, i, f)
			}
		}
	}
	// c was not a recipient: the next thing it sees is its own pong.
	c1.send(map[string]string{"type": "ping"})
	if f := c1.next(); f["type"] != gateway.TypePong {
		t.Fatalf("c received %v", f)
	}
}

// consumer reads realtime-chat from the start.
func consume(t *testing.T, r *rig) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.kafka.ListenAddrs()...), kgo.ConsumeTopics(catalog.RealtimeChat),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestTypedMessageIsEmittedAndAcked(t *testing.T) {
	r := newRig(t, nil)
	u := id.NewUserID()
	conv := id.NewConversationID()
	cl := r.dial(u)
	cl.send(map[string]any{"type": "message", "conversation_id": conv, "client_message_id": "k-1", "content": "typed", "message_type": "TEXT"})
	ack := cl.next()
	if ack["type"] != gateway.TypeAck || ack["client_message_id"] != "k-1" || ack["conversation_id"] != string(conv) {
		t.Fatalf("ack = %v", ack)
	}
	kc := consume(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	fs := kc.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Key) != string(conv) {
		t.Fatalf("records %v", recs)
	}
	ev := recordEvent(t, recs[0])
	d, err := envelope.NewCodec(catalog.Default()).Decode(ev)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Message.(*eventsv1.ChatMessageSubmitted)
	if m.SenderId != string(u) || m.ClientMessageId != "k-1" || m.Content != "typed" || m.ConversationId != string(conv) ||
		m.Type != eventsv1.MessageType_MESSAGE_TYPE_TEXT || m.GatewayId != r.gw.ID() || m.SubmittedAt == nil {
		t.Fatalf("event = %v", m)
	}
}

func TestBadFramesAreRefusedWithoutClosing(t *testing.T) {
	r := newRig(t, nil)
	cl := r.dial(id.NewUserID())
	for _, f := range []any{
		map[string]any{"type": "message", "conversation_id": "nope", "client_message_id": "x", "content": "a"},
		map[string]any{"type": "message", "conversation_id": id.NewConversationID(), "content": "no id"},
		map[string]any{"type": "message", "conversation_id": id.NewConversationID(), "client_message_id": "y", "content": "a", "message_type": "GIF"},
		map[string]any{"type": "dance"},
		"just a string",
	} {
		cl.send(f)
		if got := cl.next(); got["type"] != gateway.TypeError {
			t.Fatalf("%v answered %v, want an error frame", f, got)
		}
	}
	cl.send(map[string]string{"type": "ping"})
	if got := cl.next(); got["type"] != gateway.TypePong {
		t.Fatalf("after refusals: %v", got)
	}
}

func TestSlowClientIsClosedWithoutStallingOthers(t *testing.T) {
	r := newRig(t, func(c *gateway.Config) { c.SendQueue = 4; c.WriteTimeout = time.Second })
	ctx := context.Background()
	slowUser, fastUser := id.NewUserID(), id.NewUserID()
	slow := r.dial(slowUser) // never reads again
	fast := r.dial(fastUser)
	big := `{"type":"message","pad":"` + strings.Repeat("x", 256<<10) + `"}`
	got := make(chan error, 1)
	// The fast client has at most two frames in flight, well inside its
	// queue of four, so only the slow client can fill its queue however
	// slowly this machine runs the reader.
	inFlight := make(chan struct{}, 2)
	go func() {
		// The fast client reads everything pushed to it, in order.
		for i := 0; ; i++ {
			rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			_, data, err := fast.ws.Read(rctx)
			cancel()
			if err != nil {
				got <- err
				return
			}
			<-inFlight
			if want := fmt.Sprintf(`"n":%d}`, i); !strings.HasSuffix(string(data), want) {
				got <- fmt.Errorf("frame %d ends %q", i, data[max(0, len(data)-12):])
				return
			}
			if i == 199 {
				got <- nil
				return
			}
		}
	}()
	for i := range 200 {
		if _, err := r.pusher.Push(ctx, []id.UserID{slowUser}, []byte(big)); err != nil {
			t.Fatal(err)
		}
		select {
		case inFlight <- struct{}{}:
		case err := <-got:
			t.Fatalf("fast client stopped reading at frame %d: %v", i, err)
		}
		if _, err := r.pusher.Push(ctx, []id.UserID{fastUser}, fmt.Appendf(nil, `{"type":"message","n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-got; err != nil {
		t.Fatalf("fast client: %v", err)
	}
	eventually(t, "slow connection dropped", func() bool { return r.gw.Stats().Dropped >= 1 })
	eventually(t, "slow user offline", func() bool {
		on, _ := r.presence.Online(ctx, slowUser)
		return !on
	})
	// What the slow client finally reads ends with the close status.
	for {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, _, err := slow.ws.Read(rctx)
		cancel()
		if err != nil {
			if s := websocket.CloseStatus(err); s != websocket.StatusPolicyViolation && !errors.Is(err, context.DeadlineExceeded) {
				// The close frame may be lost behind a full socket; the
				// connection is gone either way.
				t.Logf("slow client ended with %v", err)
			}
			break
		}
	}
}

func TestShutdownClosesConnectionsGoingAway(t *testing.T) {
	r := newRig(t, nil)
	u := id.NewUserID()
	cl := r.dial(u)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := r.gw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err := cl.ws.Read(ctx)
	if s := websocket.CloseStatus(err); s != websocket.StatusGoingAway {
		t.Fatalf("read after shutdown: %v, want close 1001", err)
	}
	if on, _ := r.presence.Online(ctx, u); on {
		t.Fatal("user still online after shutdown")
	}
	// New upgrades are refused.
	_, resp, err := websocket.Dial(ctx, r.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + r.token(u)}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v %v", err, resp)
	}
}

// heldVerifier holds each upgrade in token verification until released.
type heldVerifier struct {
	gateway.Verifier
	held, release chan struct{}
}

func (h heldVerifier) Verify(ctx context.Context, token string) (auth.Claims, error) {
	h.held <- struct{}{}
	<-h.release
	return h.Verifier.Verify(ctx, token)
}

// An upgrade that passed the shutdown check before Close began is either
// refused or waited for: it is never accepted after Close has returned.
func TestShutdownRefusesAnUpgradeInFlight(t *testing.T) {
	held := heldVerifier{held: make(chan struct{}), release: make(chan struct{})}
	r := newRig(t, func(c *gateway.Config) {
		held.Verifier = c.Verifier
		c.Verifier = held
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	type result struct {
		ws   *websocket.Conn
		resp *http.Response
		err  error
	}
	dialed := make(chan result, 1)
	go func() {
		ws, resp, err := websocket.Dial(ctx, r.url, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + r.token(id.NewUserID())}}})
		dialed <- result{ws, resp, err}
	}()
	<-held.held // past the shutdown check, verifying its token
	if err := r.gw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	close(held.release)
	res := <-dialed
	if res.err == nil {
		res.ws.CloseNow()
		t.Fatal("an upgrade was accepted after Close returned")
	}
	if res.resp == nil || res.resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade during Close: %v %v, want 503", res.err, res.resp)
	}
	if st := r.gw.Stats(); st.Connections != 0 {
		t.Errorf("%d connections registered after Close", st.Connections)
	}
}

func TestTokenExpiryClosesConnection(t *testing.T) {
	r := newRig(t, nil)
	// A token issued a minute ago with the shortest TTL: 1.5s left.
	short, err := auth.NewSigner(r.signer.Keys(), auth.SignerConfig{TTL: time.Minute,
		Now: func() time.Time { return time.Now().Add(-time.Minute + 1500*time.Millisecond) }})
	if err != nil {
		t.Fatal(err)
	}
	u := id.NewUserID()
	tok, claims, err := short.Issue(auth.Principal{UserID: u, Role: auth.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.marks.Mark(context.Background(), claims.ID, u, claims.Expiry); err != nil {
		t.Fatal(err)
	}
	cl := r.dialWith(r.url+"?access_token="+url.QueryEscape(tok), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, _, err = cl.ws.Read(ctx)
	if s := websocket.CloseStatus(err); s != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "token expired") {
		t.Fatalf("read: %v, want close 1008 token expired", err)
	}
}

// recordEvent turns a consumed record into its CloudEvent.
func recordEvent(t *testing.T, rec *kgo.Record) cloudevents.Event {
	t.Helper()
	msg := &sarama.ConsumerMessage{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
	for _, h := range rec.Headers {
		msg.Headers = append(msg.Headers, &sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	e, err := kafka.EventFromRecord(msg, kafka.SourceRef{Namespace: "test", Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A token is taken only while its session lives, and a connection ends
// when its session does (logout, password change, deleted account).
func TestEndedSessionsAreRefusedAndClosed(t *testing.T) {
	r := newRig(t, func(c *gateway.Config) { c.SessionCheck = 100 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	u := id.NewUserID()
	tok, sid := r.session(u)
	other := r.dial(u) // another session of the same user stays open
	h := http.Header{"Authorization": {"Bearer " + tok}}
	cl := r.dialWith(r.url, &websocket.DialOptions{HTTPHeader: h})

	if err := r.marks.Unmark(ctx, sid); err != nil {
		t.Fatal(err)
	}
	_, _, err := cl.ws.Read(ctx)
	if s := websocket.CloseStatus(err); s != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "session ended") {
		t.Fatalf("read after the session ended: %v, want close 1008 session ended", err)
	}
	_, resp, err := websocket.Dial(ctx, r.url, &websocket.DialOptions{HTTPHeader: h})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("dial with the ended session's token: %v %v, want 401", err, resp)
	}
	// A token whose session is marked for someone else is no better.
	forged, claims, err := r.signer.Issue(auth.Principal{UserID: u, Role: auth.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.marks.Mark(ctx, claims.ID, id.NewUserID(), claims.Expiry); err != nil {
		t.Fatal(err)
	}
	_, resp, err = websocket.Dial(ctx, r.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + forged}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("dial with a session marked for another user: %v %v, want 401", err, resp)
	}

	// Marks lost with the sentinel (Redis restarted empty): a retry, not
	// a refusal, and open connections are left alone.
	if err := r.marks.Forget(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.marks.SetSynced(context.Background()) })
	tok3, sid3 := r.session(u)
	if err := r.marks.Unmark(ctx, sid3); err != nil {
		t.Fatal(err)
	}
	_, resp, err = websocket.Dial(ctx, r.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok3}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial while the marks are incomplete: %v %v, want 503", err, resp)
	}
	time.Sleep(300 * time.Millisecond) // a few session checks
	if st := r.gw.Stats(); st.Connections != 1 {
		t.Errorf("%d connections open, want the live session's one", st.Connections)
	}
	other.ws.CloseNow()
}

// limited tunes a rig with tight limits of its own.
func limited(t *testing.T, edit func(*ratelimit.Config)) func(*gateway.Config) {
	return func(c *gateway.Config) {
		c.Limits = ratelimit.DefaultConfig()
		edit(&c.Limits)
		c.Limiter = ratelimit.New(c.Redis, testrig.ID())
	}
}

// "281 DMs in 2 s over its websocket": frames past the account's budget
// are refused with a rate_limited error frame and never reach Kafka.
func TestFrameFloodIsRefused(t *testing.T) {
	r := newRig(t, limited(t, func(l *ratelimit.Config) { l.Frames = ratelimit.Limit{Rate: 1, Per: time.Minute, Burst: 3} }))
	u := id.NewUserID()
	conv := id.NewConversationID()
	cl := r.dial(u)
	for i := range 6 {
		cl.send(map[string]any{"type": "message", "conversation_id": conv, "client_message_id": fmt.Sprintf("f-%d", i), "content": "flood", "message_type": "TEXT"})
	}
	acks, limitedIDs := 0, map[string]bool{}
	for range 6 {
		f := cl.next()
		switch {
		case f["type"] == gateway.TypeAck:
			acks++
		case f["type"] == gateway.TypeError && f["code"] == ratelimit.CodeRateLimited:
			limitedIDs[fmt.Sprint(f["client_message_id"])] = true
		default:
			t.Fatalf("frame %v", f)
		}
	}
	if acks != 3 || len(limitedIDs) != 3 || !limitedIDs["f-5"] {
		t.Errorf("%d acks and refusals for %v; want 3 and 3 (f-3..f-5)", acks, limitedIDs)
	}
	kc := consume(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := 0
	for got < 4 && ctx.Err() == nil {
		got += len(kc.PollRecords(ctx, 10).Records())
	}
	if got != 3 {
		t.Errorf("%d records emitted, want the 3 acknowledged", got)
	}
}

// "one user opened 4,000 websockets": handshakes past the account's budget
// get 429, and so does one past the most open sockets an account may hold.
func TestHandshakeFloodIsRefused(t *testing.T) {
	r := newRig(t, limited(t, func(l *ratelimit.Config) {
		l.Connect = ratelimit.Limit{Rate: 1, Per: time.Minute, Burst: 4}
		l.MaxSockets = 2
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	u := id.NewUserID()
	r.dial(u)
	r.dial(u)
	dial := func() *http.Response {
		_, resp, err := websocket.Dial(ctx, r.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + r.token(u)}}})
		if err == nil {
			t.Fatal("a handshake past the limit was accepted")
		}
		return resp
	}
	if resp := dial(); resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third socket: %v, want 429", resp)
	}
	dial() // the fourth handshake of the burst
	if resp := dial(); resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.HasPrefix(resp.Header.Get("RateLimit"), `"ws-connect";r=0;`) {
		t.Fatalf("a fifth handshake: %v, want 429 with the ws-connect budget spent", resp)
	}
	// Another account from another address is not held back; from the
	// same address it is, by the address's budget.
	other := id.NewUserID()
	r.dialWith(r.url, &websocket.DialOptions{HTTPHeader: http.Header{
		"Authorization": {"Bearer " + r.token(other)}, "X-Forwarded-For": {"203.0.113.50"}}})
	_, resp, err := websocket.Dial(ctx, r.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + r.token(other)}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("another account from the flooding address: %v %v, want 429", err, resp)
	}
}

// "a websocket message to a conversation one is not in is acked and writes
// a dead-letter row": it is refused on the socket (not_a_participant) and
// never reaches Kafka; when membership cannot be asked, the client is told
// to send again and nothing is emitted either. A yes is remembered for the
// connection, so a conversation's messages do not each ask.
func TestMessagesOnlyToOwnConversations(t *testing.T) {
	r := newRig(t, nil)
	mine, theirs := id.NewConversationID(), id.NewConversationID()
	r.outsiders.closed.Store(theirs, struct{}{})
	cl := r.dial(id.NewUserID())
	send := func(conv id.ConversationID, cid string) map[string]any {
		cl.send(map[string]any{"type": "message", "conversation_id": conv, "client_message_id": cid, "content": "hi", "message_type": "TEXT"})
		return cl.next()
	}
	if f := send(theirs, "x-1"); f["type"] != gateway.TypeError || f["code"] != gateway.CodeNotParticipant || f["client_message_id"] != "x-1" {
		t.Fatalf("a message to someone else's conversation: %v, want not_a_participant", f)
	}
	r.outsiders.down.Store(true)
	if f := send(mine, "m-0"); f["type"] != gateway.TypeError || f["code"] != gateway.CodeUnavailable {
		t.Fatalf("with membership unanswerable: %v, want unavailable", f)
	}
	r.outsiders.down.Store(false)
	for i := range 3 {
		if f := send(mine, fmt.Sprintf("m-%d", i+1)); f["type"] != gateway.TypeAck {
			t.Fatalf("message %d to its own conversation: %v", i+1, f)
		}
	}
	if n := r.outsiders.asked.Load(); n != 3 {
		t.Errorf("membership asked %d times, want 3 (the refusal, the failed ask, the first of three)", n)
	}
	kc := consume(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var convs []string
	for len(convs) < 4 && ctx.Err() == nil {
		for _, rec := range kc.PollRecords(ctx, 10).Records() {
			convs = append(convs, string(rec.Key))
		}
	}
	if len(convs) != 3 || slices.Contains(convs, string(theirs)) {
		t.Errorf("records emitted for %v, want three for %s only", convs, mine)
	}
}
