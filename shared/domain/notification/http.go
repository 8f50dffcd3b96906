package notification

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// Mount registers the inbox endpoints on mux, each behind authed (the
// bearer-token middleware). A user only ever sees their own notifications;
// another user's id answers 404 like one that does not exist.
//
//	GET  /v1/notifications             ?unread=true&limit=&cursor= → 200 {items, next_cursor}, newest first
//	POST /v1/notifications/{id}/read   mark one read → 200 notification
//	POST /v1/notifications/read        mark all read → 200 {"marked": n}
//
// Other methods on these paths answer 405 in the JSON error format.
func (s *Service) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	h := func(fn httpapi.HandlerFunc) http.Handler { return authed(httpapi.Handle(s.cfg.Logger, fn)) }
	mux.Handle("GET /v1/notifications", h(s.handleList))
	mux.Handle("POST /v1/notifications/{id}/read", h(s.handleMarkRead))
	mux.Handle("POST /v1/notifications/read", h(s.handleMarkAllRead))
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) error {
	user, err := caller(r)
	if err != nil {
		return err
	}
	page, err := httpapi.ParsePage[Cursor](r, httpapi.PageConfig{})
	if err != nil {
		return err
	}
	q := Query{Limit: page.Limit}
	if page.HasCursor {
		q.After = &page.Cursor
	}
	if vs, ok := r.URL.Query()["unread"]; ok {
		if len(vs) != 1 {
			return httpapi.BadRequest("unread must be given once")
		}
		if q.UnreadOnly, err = strconv.ParseBool(vs[0]); err != nil {
			return httpapi.BadRequest("unread must be true or false")
		}
	}
	ns, more, err := s.List(r.Context(), user, q)
	if err != nil {
		return err
	}
	next := ""
	if more {
		last := ns[len(ns)-1]
		if next, err = httpapi.EncodeCursor(Cursor{UpdatedAt: last.UpdatedAt, ID: last.ID}); err != nil {
			return err
		}
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, httpapi.NewPage(ns, next))
	return nil
}

func (s *Service) handleMarkRead(w http.ResponseWriter, r *http.Request) error {
	user, err := caller(r)
	if err != nil {
		return err
	}
	n, err := s.MarkRead(r.Context(), user, r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		return httpapi.NotFound("notification not found").Wrap(err)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, n)
	return nil
}

func (s *Service) handleMarkAllRead(w http.ResponseWriter, r *http.Request) error {
	user, err := caller(r)
	if err != nil {
		return err
	}
	n, err := s.MarkAllRead(r.Context(), user)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, map[string]int64{"marked": n})
	return nil
}

// caller is the authenticated user; Mount's authed middleware put it there.
func caller(r *http.Request) (id.UserID, error) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.UserID.IsZero() {
		return "", httpapi.Unauthorized("a bearer token is required").
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`"`)
	}
	return p.UserID, nil
}
