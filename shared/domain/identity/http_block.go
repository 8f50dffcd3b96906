package identity

import (
	"net/http"
	"time"

	"github.com/nova-social/nova/shared/httpapi"
)

// blockJSON is one entry of the caller's block list.
type blockJSON struct {
	User      userJSON  `json:"user"`
	BlockedAt time.Time `json:"blocked_at"`
}

// handleBlock and handleUnblock answer 204 whether or not the call changed
// anything, as follow and unfollow do.
func (s *Service) handleBlock(w http.ResponseWriter, r *http.Request) error {
	return s.followEndpoint(w, r, s.Block)
}

func (s *Service) handleUnblock(w http.ResponseWriter, r *http.Request) error {
	return s.followEndpoint(w, r, s.Unblock)
}

func (s *Service) handleListBlocks(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	page, err := httpapi.ParsePage[BlockCursor](r, httpapi.PageConfig{})
	if err != nil {
		return err
	}
	var after *BlockCursor
	if page.HasCursor {
		after = &page.Cursor
	}
	list, more, err := s.Blocks(r.Context(), p.UserID, after, page.Limit)
	if err != nil {
		return apiError(err)
	}
	next := ""
	if more {
		last := list[len(list)-1]
		if next, err = httpapi.EncodeCursor(BlockCursor{BlockedAt: last.BlockedAt, UserID: last.User.ID.String()}); err != nil {
			return err
		}
	}
	out := make([]blockJSON, len(list))
	for i, b := range list {
		out[i] = blockJSON{User: publicView(b.User), BlockedAt: b.BlockedAt}
	}
	httpapi.WriteJSON(w, r, s.log, http.StatusOK, httpapi.NewPage(out, next))
	return nil
}
