// Package push carries frames from Nova's reactions to the websocket
// connections of online users.
//
// Each realtime-gateway replica subscribes to its own Redis pub/sub channel,
// gateway:{gateway_id}. A pusher looks the recipients' live connections up
// in shared/presence, groups them by gateway, and publishes one Delivery per
// gateway naming the users there and carrying the frame once; the gateway
// writes the frame to every open connection of those users (every device).
// So a push costs one presence read and one PUBLISH per gateway involved,
// and a gateway only hears about its own users. Pub/sub is fire-and-forget:
// a gateway that is restarting misses pushes, and clients catch up from the
// history endpoint when they reconnect.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/presence"
)

// Channel is the pub/sub channel of a gateway replica.
func Channel(gatewayID string) string { return "gateway:" + gatewayID }

// Delivery is what a gateway receives on its channel: a frame for the open
// connections of some of its users.
type Delivery struct {
	UserIDs []string        `json:"user_ids"`
	Frame   json.RawMessage `json:"frame"`
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
	byGateway := map[string][]string{}
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
				byGateway[c.GatewayID] = append(byGateway[c.GatewayID], string(u))
			}
		}
	}
	if len(byGateway) == 0 {
		return res, nil
	}
	pipe := p.rdb.Pipeline()
	for gw, us := range byGateway {
		b, err := json.Marshal(Delivery{UserIDs: us, Frame: frame})
		if err != nil {
			return Result{}, fmt.Errorf("push: encode delivery: %w", err)
		}
		pipe.Publish(ctx, Channel(gw), b)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return Result{}, fmt.Errorf("push: publish: %w", err)
	}
	res.Gateways = len(byGateway)
	return res, nil
}
