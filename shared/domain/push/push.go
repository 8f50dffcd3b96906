// Package push carries frames from Nova's reactions to the websocket
// connections of online users.
//
// Each realtime-gateway replica subscribes to its own Redis pub/sub channel,
// gateway:{gateway_id}. A pusher looks the recipients' live connections up
// in shared/domain/presence, groups them by gateway, and publishes one Delivery per
// gateway naming the users there and carrying the frame once; the gateway
// writes the frame to every open connection of those users (every device).
// So a push costs one presence read and one PUBLISH per gateway involved,
// and a gateway only hears about its own users. Pub/sub is fire-and-forget,
// so Push checks that each PUBLISH reached a subscriber. One that did not
// is either resubscribing after losing Redis, its websockets still open, or
// gone (crashed, its presence entries not yet expired). A running gateway
// keeps an alive mark (MarkAlive, AliveTTL): for a gateway with a mark Push
// fails with ErrNotListening, and the caller's retry publishes again once
// it listens (the gateway drops a message it already sent to a connection,
// so publishing again to the gateways that did hear is harmless); a gateway
// without one is gone, its connections with it, and its users count as
// unreached, not as an error that would hold up the caller's partition.
// Their clients catch up from the history endpoint when they reconnect.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/telemetry"
)

// Channel is the pub/sub channel of a gateway replica.
func Channel(gatewayID string) string { return "gateway:" + gatewayID }

// Delivery is what a gateway receives on its channel: a frame for the open
// connections of some of its users.
type Delivery struct {
	UserIDs []id.UserID     `json:"user_ids"` // validated as they are decoded
	Frame   json.RawMessage `json:"frame"`
	// TraceParent is the W3C trace context of the reaction that pushed, so
	// the gateway's delivery to the sockets ends that trace.
	TraceParent string `json:"traceparent,omitempty"`
}

// Pusher publishes frames to the gateways holding users' connections.
type Pusher struct {
	rdb      redis.UniversalClient
	presence *presence.Store
}

// NewPusher returns a Pusher finding connections in ps and publishing on rdb.
func NewPusher(rdb redis.UniversalClient, ps *presence.Store) (*Pusher, error) {
	if rdb == nil || ps == nil {
		return nil, errors.New("push: nil Redis client or presence store")
	}
	return &Pusher{rdb: rdb, presence: ps}, nil
}

// Result says what a push reached.
type Result struct {
	// Online are the users who had at least one live connection.
	Online []id.UserID
	// Gateways is how many gateway replicas were published to.
	Gateways int
	// Unreached counts users listed on a gateway that is gone (no
	// subscriber and no alive mark): their connections went with it.
	Unreached int
}

// Push sends frame (a JSON object) to every live connection of users.
// Offline users are skipped; Result.Online says who was reached.
func (p *Pusher) Push(ctx context.Context, users []id.UserID, frame []byte) (Result, error) {
	if !json.Valid(frame) {
		return Result{}, errors.New("push: frame is not JSON")
	}
	conns, err := p.presence.ConnectionsOf(ctx, users)
	if err != nil {
		return Result{}, fmt.Errorf("push: %w", err)
	}
	byGateway := map[string][]id.UserID{}
	var res Result
	for _, u := range users {
		cs, ok := conns[u]
		if !ok {
			continue
		}
		res.Online = append(res.Online, u)
		seen := map[string]bool{}
		for _, c := range cs {
			if !seen[c.GatewayID] {
				seen[c.GatewayID] = true
				byGateway[c.GatewayID] = append(byGateway[c.GatewayID], u)
			}
		}
	}
	if len(byGateway) == 0 {
		return res, nil
	}
	pipe := p.rdb.Pipeline()
	heard := make(map[string]*redis.IntCmd, len(byGateway))
	tp := telemetry.FormatTraceParent(trace.SpanContextFromContext(ctx))
	for gw, us := range byGateway {
		b, err := json.Marshal(Delivery{UserIDs: us, Frame: frame, TraceParent: tp})
		if err != nil {
			return Result{}, fmt.Errorf("push: encode delivery: %w", err)
		}
		heard[gw] = pipe.Publish(ctx, Channel(gw), b)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return Result{}, fmt.Errorf("push: publish: %w", err)
	}
	res.Gateways = len(byGateway)
	var deaf []string
	for gw, n := range heard {
		if n.Val() == 0 {
			deaf = append(deaf, gw)
		}
	}
	if len(deaf) == 0 {
		return res, nil
	}
	sort.Strings(deaf)
	alive := make([]*redis.IntCmd, len(deaf))
	pipe = p.rdb.Pipeline()
	for i, gw := range deaf {
		alive[i] = pipe.Exists(ctx, AliveKey(gw))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return res, fmt.Errorf("push: %w: %s (and its alive mark unread: %w)", ErrNotListening, strings.Join(deaf, ", "), err)
	}
	var resubscribing []string
	for i, gw := range deaf {
		if alive[i].Val() > 0 {
			resubscribing = append(resubscribing, gw)
		} else {
			res.Unreached += len(byGateway[gw])
		}
	}
	if len(resubscribing) > 0 {
		return res, fmt.Errorf("push: %w: %s", ErrNotListening, strings.Join(resubscribing, ", "))
	}
	return res, nil
}

// AliveTTL is how long a gateway's alive mark outlasts its last refresh; a
// running gateway refreshes it several times within.
const AliveTTL = 10 * time.Second

// AliveKey holds the alive mark of gateway gatewayID.
func AliveKey(gatewayID string) string { return "gateway:alive:" + gatewayID }

// MarkAlive sets gatewayID's alive mark for AliveTTL.
func MarkAlive(ctx context.Context, rdb redis.Cmdable, gatewayID string) error {
	if err := rdb.Set(ctx, AliveKey(gatewayID), 1, AliveTTL).Err(); err != nil {
		return fmt.Errorf("push: mark gateway %s alive: %w", gatewayID, err)
	}
	return nil
}

// MarkGone removes gatewayID's alive mark, at a clean stop.
func MarkGone(ctx context.Context, rdb redis.Cmdable, gatewayID string) error {
	if err := rdb.Del(ctx, AliveKey(gatewayID)).Err(); err != nil {
		return fmt.Errorf("push: mark gateway %s gone: %w", gatewayID, err)
	}
	return nil
}

// ErrNotListening is returned by Push when a gateway that presence lists
// and that is alive had no subscriber on its channel, so its users' frames
// were lost. It is worth retrying: the gateway is resubscribing.
var ErrNotListening = errors.New("gateway not listening on its channel")
