package feed

import (
	"context"
	"fmt"
)

// Author is what a feed item shows of its author, kept from user-events.
type Author struct {
	ID          string `json:"id"`
	Username    string `json:"username,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

func profileKey(user string) string { return "profile:" + user }

// ProfileChange is a change to a cached profile; nil fields are unchanged.
type ProfileChange struct {
	Username    *string
	DisplayName *string
	AvatarURL   *string
}

// UpdateProfile applies a UserRegistered or UserProfileUpdated to the local
// profile cache. Setting fields is idempotent.
func (s *Store) UpdateProfile(ctx context.Context, user string, c ProfileChange) error {
	fields := map[string]any{}
	if c.Username != nil {
		fields["username"] = *c.Username
	}
	if c.DisplayName != nil {
		fields["display_name"] = *c.DisplayName
	}
	if c.AvatarURL != nil {
		fields["avatar_url"] = *c.AvatarURL
	}
	if len(fields) == 0 {
		return nil
	}
	if err := s.rdb.HSet(ctx, profileKey(user), fields).Err(); err != nil {
		return fmt.Errorf("feed: cache profile of %s: %w", user, err)
	}
	return nil
}

// Authors returns the cached profiles of users; a user without one gets only
// an id.
func (s *Store) Authors(ctx context.Context, users []string) (map[string]Author, error) {
	pipe := s.rdb.Pipeline()
	cmds := make(map[string]interface {
		Val() map[string]string
	}, len(users))
	for _, u := range users {
		if _, ok := cmds[u]; ok {
			continue
		}
		cmds[u] = pipe.HGetAll(ctx, profileKey(u))
	}
	if len(cmds) == 0 {
		return map[string]Author{}, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("feed: read profiles: %w", err)
	}
	out := make(map[string]Author, len(cmds))
	for u, c := range cmds {
		v := c.Val()
		out[u] = Author{ID: u, Username: v["username"], DisplayName: v["display_name"], AvatarURL: v["avatar_url"]}
	}
	return out, nil
}
