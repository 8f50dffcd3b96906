package messaging

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// maxBodyBytes bounds a request body: 5000 characters written as JSON
// escapes (up to 12 bytes each) plus 256 participant ids and the rest.
const maxBodyBytes = 128 << 10

// Mount registers the messaging endpoints on mux, each behind authed (the
// bearer-token middleware):
//
//	POST /v1/conversations                     open → 201 conversation (200 when the DIRECT pair exists)
//	GET  /v1/conversations                     ?limit=&cursor= → 200 {items, next_cursor}, newest activity first
//	GET  /v1/conversations/{id}                → 200 conversation and can_send (the caller may write now)
//	POST /v1/conversations/{id}/messages       send → 201 message (200 with the stored one on a retry)
//	GET  /v1/conversations/{id}/messages       ?limit=&cursor=&latest= → 200 {items, next_cursor, prev_cursor}
//	POST /v1/conversations/{id}/accept         accept an invitation to a group → 200 conversation
//	POST /v1/conversations/{id}/decline        decline an invitation, or leave a group → 204
//
// A conversation the caller does not take part in answers 404 everywhere;
// an invitee reads the conversation (and its invited_ids) but, until they
// accept, its messages and sending answer 404 too.
func (s *Service) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	h := func(fn httpapi.HandlerFunc) http.Handler { return authed(httpapi.Handle(s.cfg.Logger, fn)) }
	mux.Handle("POST /v1/conversations", h(s.handleCreate))
	mux.Handle("GET /v1/conversations", h(s.handleList))
	mux.Handle("GET /v1/conversations/{id}", h(s.handleGet))
	mux.Handle("POST /v1/conversations/{id}/messages", h(s.handleSend))
	mux.Handle("GET /v1/conversations/{id}/messages", h(s.handleHistory))
	mux.Handle("POST /v1/conversations/{id}/accept", h(s.handleAccept))
	mux.Handle("POST /v1/conversations/{id}/decline", h(s.handleDecline))
}

type createRequest struct {
	ParticipantIDs []string `json:"participant_ids"`
	Title          string   `json:"title"`
}

type sendRequest struct {
	ClientMessageID string   `json:"client_message_id"`
	Type            string   `json:"type"`
	Content         string   `json:"content"`
	MediaIDs        []string `json:"media_ids"`
}

// historyPage is the body of a history read: items oldest first, with the
// cursors of the newer and the older page.
type historyPage struct {
	Items      []Message `json:"items"`
	NextCursor *string   `json:"next_cursor"`
	PrevCursor *string   `json:"prev_cursor"`
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) error {
	user, err := caller(r)
	if err != nil {
		return err
	}
	var req createRequest
	if err := httpapi.DecodeJSON(w, r, &req, maxBodyBytes); err != nil {
		return err
	}
	in := NewConversation{Title: req.Title}
	for _, raw := range req.ParticipantIDs {
		p, err := id.ParseUserID(raw)
		if err != nil {
			return httpError(invalid("participant_ids", "%q is not a user id", raw))
		}
		in.ParticipantIDs = append(in.ParticipantIDs, p)
	}
	c, created, err := s.CreateConversation(r.Context(), user, in)
	if err != nil {
		return httpError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/conversations/"+c.ID)
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, status, c)
	return nil
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) error {
	user, err := caller(r)
	if err != nil {
		return err
	}
	page, err := httpapi.ParsePage[ConversationCursor](r, httpapi.PageConfig{})
	if err != nil {
		return err
	}
	var after *ConversationCursor
	if page.HasCursor {
		after = &page.Cursor
	}
	cs, more, err := s.Conversations(r.Context(), user, after, page.Limit)
	if err != nil {
		return httpError(err)
	}
	next := ""
	if more {
		last := cs[len(cs)-1]
		if next, err = httpapi.EncodeCursor(ConversationCursor{At: last.LastActivityAt, ID: last.ID}); err != nil {
			return err
		}
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, httpapi.NewPage(cs, next))
	return nil
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	user, conv, err := target(r)
	if err != nil {
		return err
	}
	c, err := s.Conversation(r.Context(), user, conv)
	if err != nil {
		return httpError(err)
	}
	v := conversationView{Conversation: c}
	switch err := s.MaySend(r.Context(), user, conv); {
	case err == nil:
		v.CanSend = true
	case !errors.Is(err, ErrNotFound):
		return httpError(err)
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, v)
	return nil
}

// conversationView is one conversation as its reader sees it: with whether
// they may write to it now (not while invited, nor to someone in a block
// with them).
type conversationView struct {
	Conversation
	CanSend bool `json:"can_send"`
}

func (s *Service) handleSend(w http.ResponseWriter, r *http.Request) error {
	user, conv, err := target(r)
	if err != nil {
		return err
	}
	var req sendRequest
	if err := httpapi.DecodeJSON(w, r, &req, maxBodyBytes); err != nil {
		return err
	}
	in := NewMessage{ClientMessageID: req.ClientMessageID, Type: req.Type, Content: req.Content}
	if in.MediaIDs, err = ParseMediaIDs(req.MediaIDs); err != nil {
		return httpError(err)
	}
	m, created, err := s.Send(r.Context(), user, conv, in)
	if err != nil {
		return httpError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	m.Media = s.cfg.MediaURLs.Media(m.Media, false)
	httpapi.WriteJSON(w, r, s.cfg.Logger, status, m)
	return nil
}

func (s *Service) handleHistory(w http.ResponseWriter, r *http.Request) error {
	user, conv, err := target(r)
	if err != nil {
		return err
	}
	page, err := httpapi.ParsePage[MessageCursor](r, httpapi.PageConfig{DefaultLimit: 50, MaxLimit: 200})
	if err != nil {
		return err
	}
	latest := false
	if v := r.URL.Query().Get("latest"); v != "" {
		if latest, err = strconv.ParseBool(v); err != nil {
			return httpapi.BadRequest("latest must be true or false")
		}
	}
	var cur *MessageCursor
	if page.HasCursor {
		cur = &page.Cursor
	}
	h, err := s.Messages(r.Context(), user, conv, cur, latest && cur == nil, page.Limit)
	if err != nil {
		return httpError(err)
	}
	out := historyPage{Items: h.Messages}
	for i := range out.Items {
		out.Items[i].Media = s.cfg.MediaURLs.Media(out.Items[i].Media, false)
	}
	for _, c := range []struct {
		cur *MessageCursor
		dst **string
	}{{h.Newer, &out.NextCursor}, {h.Older, &out.PrevCursor}} {
		if c.cur == nil {
			continue
		}
		enc, err := httpapi.EncodeCursor(*c.cur)
		if err != nil {
			return err
		}
		*c.dst = &enc
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, out)
	return nil
}

func (s *Service) handleAccept(w http.ResponseWriter, r *http.Request) error {
	user, conv, err := target(r)
	if err != nil {
		return err
	}
	c, err := s.Accept(r.Context(), user, conv)
	if err != nil {
		return httpError(err)
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, c)
	return nil
}

func (s *Service) handleDecline(w http.ResponseWriter, r *http.Request) error {
	user, conv, err := target(r)
	if err != nil {
		return err
	}
	if err := s.Decline(r.Context(), user, conv); err != nil {
		return httpError(err)
	}
	w.WriteHeader(http.StatusNoContent)
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

// target is the caller and the conversation the path names. A malformed id
// names no conversation: 404, like one the caller is not part of.
func target(r *http.Request) (id.UserID, id.ConversationID, error) {
	user, err := caller(r)
	if err != nil {
		return "", "", err
	}
	conv, err := id.ParseConversationID(r.PathValue("id"))
	if err != nil {
		return "", "", httpapi.NotFound("conversation not found").Wrap(err)
	}
	return user, conv, nil
}

// httpError turns the domain's errors into API errors; anything else is a
// 500 logged by httpapi.
func httpError(err error) error {
	var in *InputError
	switch {
	case errors.As(err, &in):
		return httpapi.Invalid(in.Error()).Wrap(err)
	case errors.Is(err, ErrNotFound):
		return httpapi.NotFound("conversation not found").Wrap(err)
	case errors.Is(err, ErrConflict):
		return httpapi.Conflict("client_message_id was already used for a message of another conversation").Wrap(err)
	}
	return err
}
