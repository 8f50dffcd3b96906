package search

import (
	"errors"
	"net/http"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
)

// Mount registers GET /v1/search behind authed (the bearer-token
// middleware):
//
//	GET /v1/search?q=&type=posts|users&limit=&cursor=  → 200 {items, next_cursor}
//
// type defaults to posts. For posts, q holds words (websearch syntax) and
// #tags; for users, a whole or partial username or display name.
func (s *Service) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	mux.Handle("GET /v1/search", authed(httpapi.Handle(s.cfg.Logger, s.handleSearch)))
}

func (s *Service) handleSearch(w http.ResponseWriter, r *http.Request) error {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.UserID.IsZero() {
		return httpapi.Unauthorized("a bearer token is required").
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`"`)
	}
	page, err := httpapi.ParsePage[Cursor](r, httpapi.PageConfig{DefaultLimit: 20, MaxLimit: 50})
	if err != nil {
		return err
	}
	var after *Cursor
	if page.HasCursor {
		after = &page.Cursor
	}
	q := r.URL.Query().Get("q")
	var (
		items any
		next  *Cursor
	)
	switch typ := r.URL.Query().Get("type"); typ {
	case "", "posts":
		items, next, err = s.Posts(r.Context(), p.UserID, q, after, page.Limit)
	case "users":
		var hits []UserHit
		if hits, next, err = s.Users(r.Context(), q, after, page.Limit); err == nil {
			hits, err = s.unblockedUsers(r.Context(), p.UserID, hits)
		}
		items = hits
	default:
		return httpapi.Invalid(`type must be "posts" or "users"`)
	}
	var qe *QueryError
	if errors.As(err, &qe) {
		return httpapi.Invalid(qe.Message).Wrap(err)
	}
	if err != nil {
		return err
	}
	cursor := ""
	if next != nil {
		if cursor, err = httpapi.EncodeCursor(*next); err != nil {
			return err
		}
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, hitPage{Items: items, NextCursor: strPtr(cursor)})
	return nil
}

// hitPage is httpapi.Page for either kind of hit; Posts and Users never
// return a nil slice, so items is never null.
type hitPage struct {
	Items      any     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
