package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/ratelimit"
)

// maxContentRunes matches messaging's default bound, so the gateway refuses
// at once what chat-persist would dead-letter.
const maxContentRunes = 5000

// conn is one open websocket. The handler goroutine reads; one writer
// goroutine drains the queue and pings.
type conn struct {
	g      *Gateway
	ws     *websocket.Conn
	id     string
	user   id.UserID
	expiry time.Time
	// session is the token's jti: the connection lives while it does.
	session string
	// token is the client's own, for asking nova-api on its behalf;
	// members are the answers, read and written by the read loop only.
	token   string
	members map[id.ConversationID]membership

	ctx    context.Context
	cancel context.CancelFunc
	queue  chan []byte
	sent   *recentIDs // ids of the messages pushed to this connection

	closeOnce sync.Once
	closing   atomic.Bool
	pinging   atomic.Bool
}

func newConn(g *Gateway, ws *websocket.Conn, user id.UserID, sessionID, token string, expiry time.Time) *conn {
	// Not derived from the gateway's context: a shutdown closes each
	// connection with a close handshake (closeWith), which cancelling its
	// reads at once would cut short.
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{g: g, ws: ws, id: newConnID(), user: user, session: sessionID, token: token, expiry: expiry, ctx: ctx, cancel: cancel,
		queue: make(chan []byte, g.cfg.SendQueue), sent: newRecentIDs(dedupeWindow), members: map[id.ConversationID]membership{}}
}

// serve runs the connection until it ends, then cleans up.
func (c *conn) serve() {
	g, log := c.g, c.g.cfg.Logger
	defer c.cancel()
	if err := g.cfg.Presence.Connect(c.ctx, c.user, c.id, g.cfg.ID); err != nil {
		log.Error("presence connect", "user", c.user, "error", err)
		c.ws.Close(websocket.StatusInternalError, "presence unavailable")
		return
	}
	g.add(c)
	g.opened.Add(1)
	defer func() {
		g.remove(c)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.cfg.Presence.Disconnect(ctx, c.user, c.id, g.cfg.ID); err != nil {
			log.Warn("presence disconnect", "user", c.user, "error", err)
		}
	}()
	if !c.expiry.IsZero() {
		t := time.AfterFunc(time.Until(c.expiry), func() { c.closeWith(websocket.StatusPolicyViolation, "token expired") })
		defer t.Stop()
	}
	// Going away on shutdown.
	stop := context.AfterFunc(g.ctx, func() { c.closeWith(websocket.StatusGoingAway, "gateway shutting down") })
	defer stop()

	c.enqueue(encode(helloFrame{Type: TypeHello, UserID: string(c.user), ConnectionID: c.id, GatewayID: g.cfg.ID,
		HeartbeatSeconds: int(g.cfg.PingInterval / time.Second)}))
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); c.writeLoop() }()
	c.readLoop()
	c.cancel()
	<-writerDone
	_ = c.ws.CloseNow() // the connection is gone either way
}

// enqueue queues a frame without blocking; a full queue closes the
// connection.
func (c *conn) enqueue(frame []byte) {
	if c.closing.Load() || c.ctx.Err() != nil {
		return
	}
	select {
	case c.queue <- frame:
		c.g.delivered.Add(1)
	default:
		c.g.dropped.Add(1)
		c.closeWith(websocket.StatusPolicyViolation, "send queue full")
	}
}

// closeWith ends the connection with a close frame, without blocking the
// caller (a pusher or a timer).
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.g.cfg.Logger.Debug("closing connection", "user", c.user, "conn", c.id, "code", code, "reason", reason)
		c.closing.Store(true)
		// Close sends the close frame and waits for the peer's (bounded by
		// the library), after which reads and writes fail and the
		// handler ends; the context is cancelled last so the handshake is
		// not cut short.
		go func() {
			_ = c.ws.Close(code, reason)
			c.cancel()
		}()
	})
}

func (c *conn) writeLoop() {
	tick := time.NewTicker(c.g.cfg.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case f := <-c.queue:
			ctx, cancel := context.WithTimeout(c.ctx, c.g.cfg.WriteTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, f)
			cancel()
			if err != nil {
				c.closeWith(websocket.StatusPolicyViolation, "write failed")
				return
			}
		case <-tick.C:
			if c.pinging.CompareAndSwap(false, true) {
				go c.ping()
			}
		}
	}
}

// ping checks the peer answers and, if so, keeps the presence alive. It
// runs beside the writer because Ping waits for the pong, which the reader
// receives.
func (c *conn) ping() {
	defer c.pinging.Store(false)
	ctx, cancel := context.WithTimeout(c.ctx, c.g.cfg.PingTimeout)
	defer cancel()
	if err := c.ws.Ping(ctx); err != nil {
		if c.ctx.Err() == nil {
			c.closeWith(websocket.StatusPolicyViolation, "ping timeout")
		}
		return
	}
	if err := c.g.cfg.Presence.Heartbeat(ctx, c.user, c.id, c.g.cfg.ID); err != nil {
		c.g.cfg.Logger.Warn("presence heartbeat", "user", c.user, "error", err)
	}
}

func (c *conn) readLoop() {
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			if s := websocket.CloseStatus(err); s == -1 && c.ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				c.g.cfg.Logger.Debug("websocket read", "user", c.user, "error", err)
			}
			return
		}
		if wait, ok := c.allowFrame(); !ok {
			// Refused unread: a client flooding frames is told when to
			// resume; nothing reaches Kafka or the dead letters.
			c.enqueue(encode(errorFrame{Type: TypeError, ClientMessageID: clientMessageID(data), Code: ratelimit.CodeRateLimited,
				Message: fmt.Sprintf("too many frames; send again in %dms", wait.Milliseconds())}))
			continue
		}
		kind, sub, refusal := parseFrame(typ, data)
		switch {
		case refusal != nil:
			c.enqueue(encode(*refusal))
		case kind == TypePing:
			c.enqueue(encode(map[string]string{"type": TypePong}))
		default:
			c.submit(sub)
		}
	}
}

// allowFrame spends one frame of the account's budget; when refused it
// says how long until one more is allowed.
func (c *conn) allowFrame() (time.Duration, bool) {
	l := c.g.cfg.Limiter
	if l == nil {
		return 0, true
	}
	res, err := l.Allow(c.ctx, c.g.cfg.Limits.FramesPolicy(), "user:"+c.user.String())
	if err != nil {
		c.g.cfg.Logger.Debug("frame rate limit not checked", "error", err)
		return 0, true
	}
	return res.RetryAfter, res.Allowed
}

// clientMessageID reads a frame's client_message_id, if it has one, to
// name it in a refusal.
func clientMessageID(data []byte) string {
	var f struct {
		ID string `json:"client_message_id"`
	}
	if json.Unmarshal(data, &f) != nil || len(f.ID) > 128 {
		return ""
	}
	return f.ID
}

func (c *conn) refuse(clientID, code, msg string) {
	c.enqueue(encode(errorFrame{Type: TypeError, ClientMessageID: clientID, Code: code, Message: msg}))
}

// submission is a typed message from a client frame, checked.
type submission struct {
	clientID string
	conv     id.ConversationID
	typ      string // messaging.Text, …
	content  string
	media    []string
}

// parseFrame reads one client frame: a ping, a typed message with its
// shape checked, or the error frame that refuses it. It is the whole of
// what a client's bytes decide before anything is emitted.
func parseFrame(typ websocket.MessageType, data []byte) (kind string, s submission, refusal *errorFrame) {
	refuse := func(clientID, code, msg string) (string, submission, *errorFrame) {
		return "", submission{}, &errorFrame{Type: TypeError, ClientMessageID: clientID, Code: code, Message: msg}
	}
	if typ != websocket.MessageText {
		return refuse("", CodeBadFrame, "frames are JSON text")
	}
	var f clientFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return refuse("", CodeBadFrame, "frame is not a JSON object")
	}
	switch f.Type {
	case TypePing:
		return TypePing, submission{}, nil
	case TypeMessage:
	default:
		return refuse(f.ClientMessageID, CodeBadFrame, "unknown frame type")
	}
	if !messaging.ValidClientMessageID(f.ClientMessageID) {
		return refuse("", CodeInvalid, "client_message_id is required: 1 to 128 printable ASCII characters without spaces")
	}
	conv, err := id.ParseConversationID(f.ConversationID)
	if err != nil {
		return refuse(f.ClientMessageID, CodeInvalid, "conversation_id is not a conversation id")
	}
	mt, err := messaging.ParseType(f.MessageType)
	if err != nil {
		return refuse(f.ClientMessageID, CodeInvalid, "message_type must be TEXT, IMAGE, VIDEO or AUDIO")
	}
	if !utf8.ValidString(f.Content) || utf8.RuneCountInString(f.Content) > maxContentRunes {
		return refuse(f.ClientMessageID, CodeInvalid, "content must be valid UTF-8 of at most 5000 characters")
	}
	for _, m := range f.MediaIDs {
		if _, err := id.ParseMediaID(m); err != nil {
			return refuse(f.ClientMessageID, CodeInvalid, "media_ids holds a malformed id")
		}
	}
	return TypeMessage, submission{clientID: f.ClientMessageID, conv: conv, typ: mt, content: f.Content, media: f.MediaIDs}, nil
}

// submit emits a checked typed message for chat-persist, then
// acknowledges it. The emit is awaited here, in the reader, so a client
// typing faster than Kafka takes its messages is slowed down rather than
// queued without bound.
func (c *conn) submit(s submission) {
	switch ok, err := c.member(s.conv); {
	case err != nil:
		c.g.cfg.Logger.Warn("membership not checked", "user", c.user, "error", err)
		c.refuse(s.clientID, CodeUnavailable, "message not accepted; send it again")
		return
	case !ok:
		c.refuse(s.clientID, CodeNotParticipant, "you are not in this conversation")
		return
	}
	ev := &eventsv1.ChatMessageSubmitted{
		ClientMessageId: s.clientID, ConversationId: string(s.conv), SenderId: string(c.user),
		Content: s.content, Type: messaging.TypeToProto(s.typ), MediaIds: s.media,
		SubmittedAt: timestamppb.Now(), GatewayId: c.g.cfg.ID,
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.g.cfg.EmitTimeout)
	defer cancel()
	if err := c.g.cfg.Emitter.Emit(ctx, ev); err != nil {
		c.g.cfg.Logger.Error("emit typed message", "user", c.user, "error", err)
		c.refuse(s.clientID, CodeUnavailable, "message not accepted; send it again")
		return
	}
	c.enqueue(encode(ackFrame{Type: TypeAck, ConversationID: string(s.conv), ClientMessageID: s.clientID}))
}
