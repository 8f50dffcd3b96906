package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nova-social/nova/shared/id"
)

// Members tells whether a client may write to a conversation. The gateway
// asks before it takes a typed message, so a frame the sender may not send
// (not in the conversation, invited and not yet in, or to someone in a
// block with them) is refused on the socket instead of acknowledged and
// dead-lettered downstream.
type Members interface {
	// IsMember answers for the holder of token, the connection's own.
	IsMember(ctx context.Context, token string, conv id.ConversationID) (bool, error)
}

// APIMembers asks nova-api, as the client, with the client's own token:
// GET /v1/conversations/{id} answers participants only (404 for anyone
// else), with can_send, what nova-api would check on the message itself.
// nova-api owns membership and blocks, so the gateway keeps no copy of them
// that could go stale.
type APIMembers struct {
	Base   string // nova-api's URL (NOVA_API_URL)
	Client *http.Client
}

// IsMember implements Members.
func (a APIMembers) IsMember(ctx context.Context, token string, conv id.ConversationID) (bool, error) {
	u := strings.TrimRight(a.Base, "/") + "/v1/conversations/" + url.PathEscape(conv.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, fmt.Errorf("gateway: membership: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.Client.Do(req)
	if err != nil {
		return false, fmt.Errorf("gateway: membership: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		var c struct {
			CanSend *bool `json:"can_send"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&c); err != nil {
			return false, fmt.Errorf("gateway: membership: nova-api's conversation: %w", err)
		}
		if c.CanSend == nil {
			return false, errors.New("gateway: membership: nova-api's conversation has no can_send")
		}
		return *c.CanSend, nil
	case http.StatusNotFound, http.StatusForbidden, http.StatusUnauthorized:
		// Not a participant (or no longer signed in: the socket closes on
		// its own when the session check sees it).
		return false, nil
	default:
		return false, fmt.Errorf("gateway: membership: nova-api answered %s", resp.Status)
	}
}

// memberTTL is how long a connection trusts a yes: a participant removed
// from a conversation, or newly in a block, can have typed messages taken
// for at most this long (nova-api then refuses them, dead-lettered with
// the reason).
const memberTTL = 30 * time.Second

// nonMemberTTL is how long a no is remembered, so a client repeating
// frames to a conversation it is not in does not repeat the question.
const nonMemberTTL = 5 * time.Second

// ErrNoMembers means the gateway has no way to check membership.
var ErrNoMembers = errors.New("gateway: no membership check configured")

type membership struct {
	member bool
	until  time.Time
}

// member answers for c's user and conv from the connection's memory or
// from Members.
func (c *conn) member(conv id.ConversationID) (bool, error) {
	if m, ok := c.members[conv]; ok && time.Now().Before(m.until) {
		return m.member, nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.g.cfg.EmitTimeout)
	defer cancel()
	ok, err := c.g.cfg.Members.IsMember(ctx, c.token, conv)
	if err != nil {
		return false, err
	}
	ttl := nonMemberTTL
	if ok {
		ttl = memberTTL
	}
	if len(c.members) >= maxRememberedConversations {
		clear(c.members)
	}
	c.members[conv] = membership{member: ok, until: time.Now().Add(ttl)}
	return ok, nil
}

// maxRememberedConversations bounds a connection's memory of answers.
const maxRememberedConversations = 256
