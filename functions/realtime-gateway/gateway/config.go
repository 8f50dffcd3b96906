package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/ratelimit"
)

// Verifier checks a bearer token; *auth.Verifier is one.
type Verifier interface {
	Verify(ctx context.Context, token string) (auth.Claims, error)
}

// Emitter publishes an event and waits until the broker has it;
// *emitter.Kafka is one.
type Emitter interface {
	Emit(ctx context.Context, msg proto.Message, opts ...envelope.Option) error
}

// Config holds the gateway's dependencies and tuning. Zero tuning fields
// take their defaults (Defaults).
type Config struct {
	// ID names this replica: its pub/sub channel and its presence entries.
	// It must be unique among live replicas.
	ID       string
	Redis    redis.UniversalClient
	Presence *presence.Store
	Verifier Verifier
	// Sessions are the live sessions nova-api marks: a token is taken
	// only while its session is marked, and a connection whose session
	// ends is closed.
	Sessions *session.Marks
	Emitter  Emitter
	Logger   *slog.Logger

	// Members says whether a client is in a conversation (APIMembers:
	// nova-api). Required.
	Members Members
	// Limiter and Limits bound handshakes per account and per address,
	// frames per account and open websockets per account; a nil Limiter
	// bounds nothing.
	Limiter *ratelimit.Limiter
	Limits  ratelimit.Config
	// TrustedProxies name the client address behind proxies
	// (httpapi.ClientIP); default httpapi.DefaultTrustedProxies.
	TrustedProxies []netip.Prefix

	// SessionCheck is how often open connections' sessions are looked up,
	// so a logout, password change or deleted account closes them.
	// Default 10s.
	SessionCheck time.Duration

	// PingInterval is how often each connection is pinged and its presence
	// refreshed. Default 20s; keep it well under the presence TTL (60s).
	PingInterval time.Duration
	// PingTimeout is how long a pong may take before the connection is
	// considered dead. Default 10s.
	PingTimeout time.Duration
	// SendQueue is how many frames may wait for one connection. A
	// connection whose queue is full is closed (1008, "send queue full"):
	// its client is too slow, and holding frames for it would stall the
	// pushes to everyone else. Default 64.
	SendQueue int
	// WriteTimeout bounds writing one frame. Default 10s.
	WriteTimeout time.Duration
	// MaxMessageBytes bounds a frame a client sends. Default 32 KiB.
	MaxMessageBytes int64
	// EmitTimeout bounds the wait for Kafka to take a typed message.
	// Default 10s.
	EmitTimeout time.Duration
	// OriginPatterns are the browser origins allowed to connect (see
	// websocket.AcceptOptions). Default any: authentication is by bearer
	// token, never by cookie, so a foreign page gains nothing by opening a
	// socket.
	OriginPatterns []string
	// RefuseQueryToken refuses a token in the access_token query
	// parameter, where proxies and access logs keep it. Taken by default,
	// for clients that have not moved to the Authorization header or the
	// "bearer.<token>" subprotocol yet; such a handshake is answered with
	// a Deprecation header.
	RefuseQueryToken bool
	// Tracer starts the span of each push delivered to the sockets, ending
	// the trace of the reaction that pushed. Nil: no spans.
	Tracer trace.TracerProvider
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.PingInterval == 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = 10 * time.Second
	}
	if c.SendQueue == 0 {
		c.SendQueue = 64
	}
	if c.TrustedProxies == nil {
		c.TrustedProxies = httpapi.DefaultTrustedProxies()
	}
	if c.SessionCheck == 0 {
		c.SessionCheck = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 32 << 10
	}
	if c.EmitTimeout == 0 {
		c.EmitTimeout = 10 * time.Second
	}
	if c.OriginPatterns == nil {
		c.OriginPatterns = []string{"*"}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a configuration the gateway cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("no gateway id"))
	}
	if c.Redis == nil || c.Presence == nil || c.Verifier == nil || c.Sessions == nil || c.Emitter == nil || c.Members == nil {
		errs = append(errs, errors.New("redis, presence, verifier, sessions, members and emitter are all required"))
	}
	if c.PingInterval <= 0 || c.PingTimeout <= 0 || c.WriteTimeout <= 0 || c.EmitTimeout <= 0 || c.SessionCheck <= 0 {
		errs = append(errs, errors.New("intervals and timeouts must be positive"))
	}
	if c.Presence != nil && c.PingInterval >= c.Presence.TTL() {
		errs = append(errs, fmt.Errorf("ping interval %s must be shorter than the presence TTL %s", c.PingInterval, c.Presence.TTL()))
	}
	if c.SendQueue < 1 || c.MaxMessageBytes < 1024 {
		errs = append(errs, fmt.Errorf("send queue %d must be positive and max message %d at least 1 KiB", c.SendQueue, c.MaxMessageBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gateway config: %w", err)
	}
	return nil
}
