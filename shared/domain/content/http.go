package content

import (
	"errors"
	"net/http"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// maxBodyBytes bounds a request body: 5000 characters written as JSON
// escapes (up to 12 bytes each for characters outside the BMP) plus the
// rest of the request.
const maxBodyBytes = 128 << 10

// Mount registers the content endpoints on mux, each behind authed (the
// bearer-token middleware):
//
//	POST   /v1/posts                  create (media_ids optional) → 201 post
//	GET    /v1/posts/{id}             read → 200 post
//	PATCH  /v1/posts/{id}             edit (author) → 200 post
//	DELETE /v1/posts/{id}             delete (author) → 204
//	POST   /v1/posts/{id}/likes       like → 200 {post_id, liked, like_count}
//	DELETE /v1/posts/{id}/likes       unlike → 200 {post_id, liked, like_count}
//	POST   /v1/posts/{id}/comments    comment → 201 comment
//	GET    /v1/posts/{id}/comments    ?limit=&cursor= → 200 {items, next_cursor}
//	POST   /v1/posts/{id}/views       record a view → 202
//	POST   /v1/posts/{id}/shares      record a share → 202
//
// Other methods on these paths answer 405 in the JSON error format.
func (s *Service) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	h := func(fn httpapi.HandlerFunc) http.Handler { return authed(httpapi.Handle(s.cfg.Logger, fn)) }
	mux.Handle("POST /v1/posts", h(s.handleCreate))
	mux.Handle("GET /v1/posts/{id}", h(s.handleGet))
	mux.Handle("PATCH /v1/posts/{id}", h(s.handleUpdate))
	mux.Handle("DELETE /v1/posts/{id}", h(s.handleDelete))
	mux.Handle("POST /v1/posts/{id}/likes", h(s.handleLike))
	mux.Handle("DELETE /v1/posts/{id}/likes", h(s.handleUnlike))
	mux.Handle("POST /v1/posts/{id}/comments", h(s.handleComment))
	mux.Handle("GET /v1/posts/{id}/comments", h(s.handleComments))
	mux.Handle("POST /v1/posts/{id}/views", h(s.handleView))
	mux.Handle("POST /v1/posts/{id}/shares", h(s.handleShare))
}

type createRequest struct {
	Content    string   `json:"content"`
	Type       *string  `json:"type"`
	Visibility *string  `json:"visibility"`
	Tags       []string `json:"tags"`
	// MediaIDs: absent takes the caller's pending uploads, [] none.
	MediaIDs *[]id.MediaID `json:"media_ids"`
}

type patchRequest struct {
	Content    *string   `json:"content"`
	Tags       *[]string `json:"tags"`
	Visibility *string   `json:"visibility"`
}

type commentRequest struct {
	Content string `json:"content"`
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
	in := NewPost{Content: req.Content, Tags: req.Tags}
	if req.MediaIDs != nil {
		in.MediaIDs = append([]id.MediaID{}, *req.MediaIDs...)
	}
	if req.Type != nil {
		if in.Type, err = post.ParseType(*req.Type); err != nil {
			return httpapi.Invalid(err.Error())
		}
	}
	if req.Visibility != nil {
		if in.Visibility, err = post.ParseVisibility(*req.Visibility); err != nil {
			return httpapi.Invalid(err.Error())
		}
	}
	p, err := s.Create(r.Context(), user, in)
	if err != nil {
		return httpError(err)
	}
	w.Header().Set("Location", "/v1/posts/"+p.ID)
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusCreated, p)
	return nil
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	user, postID, err := target(r)
	if err != nil {
		return err
	}
	p, err := s.Get(r.Context(), user, postID)
	if err != nil {
		return httpError(err)
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, p)
	return nil
}

func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request) error {
	user, postID, err := target(r)
	if err != nil {
		return err
	}
	var req patchRequest
	if err := httpapi.DecodeJSON(w, r, &req, maxBodyBytes); err != nil {
		return err
	}
	ch := Change{Content: req.Content, Tags: req.Tags}
	if req.Visibility != nil {
		v, err := post.ParseVisibility(*req.Visibility)
		if err != nil {
			return httpapi.Invalid(err.Error())
		}
		ch.Visibility = &v
	}
	p, err := s.Update(r.Context(), user, postID, ch)
	if err != nil {
		return httpError(err)
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, p)
	return nil
}

func (s *Service) handleDelete(w http.ResponseWriter, r *http.Request) error {
	user, postID, err := target(r)
	if err != nil {
		return err
	}
	if err := s.Delete(r.Context(), user, postID); err != nil {
		return httpError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleLike(w http.ResponseWriter, r *http.Request) error {
	user, postID, err := target(r)
	if err != nil {
		return err
	}
	l, err := s.Like(r.Context(), user, postID)
	if err != nil {
		return httpError(err)
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, l)
	return nil
}

func (s *Service) handleUnlike(w http.ResponseWriter, r *http.Request) error {
	user, postID, err := target(r)
	if err != nil {
		return err
	}
	l, err := s.Unlike(r.Context(), user, postID)
	if err != nil {
		return httpError(err)
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, l)
	return nil
}

func (s *Service) handleComment(w http.ResponseWriter, r *http.Request) error {
	user, postID, err := target(r)
	if err != nil {
		return err
	}
	var req commentRequest
	if err := httpapi.DecodeJSON(w, r, &req, maxBodyBytes); err != nil {
		return err
	}
	c, err := s.Comment(r.Context(), user, postID, req.Content)
	if err != nil {
		return httpError(err)
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusCreated, c)
	return nil
}

func (s *Service) handleComments(w http.ResponseWriter, r *http.Request) error {
	user, postID, err := target(r)
	if err != nil {
		return err
	}
	page, err := httpapi.ParsePage[CommentCursor](r, httpapi.PageConfig{})
	if err != nil {
		return err
	}
	var after *CommentCursor
	if page.HasCursor {
		after = &page.Cursor
	}
	cs, cur, err := s.Comments(r.Context(), user, postID, after, page.Limit)
	if err != nil {
		return httpError(err)
	}
	next := ""
	if cur != nil {
		if next, err = httpapi.EncodeCursor(*cur); err != nil {
			return err
		}
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, httpapi.NewPage(cs, next))
	return nil
}

func (s *Service) handleView(w http.ResponseWriter, r *http.Request) error {
	user, postID, err := target(r)
	if err != nil {
		return err
	}
	if err := s.View(r.Context(), user, postID); err != nil {
		return httpError(err)
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Service) handleShare(w http.ResponseWriter, r *http.Request) error {
	user, postID, err := target(r)
	if err != nil {
		return err
	}
	if err := s.Share(r.Context(), user, postID); err != nil {
		return httpError(err)
	}
	w.WriteHeader(http.StatusAccepted)
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

// target is the caller and the post the path names. A malformed post id
// names no post: 404, like any other post that does not exist.
func target(r *http.Request) (id.UserID, id.PostID, error) {
	user, err := caller(r)
	if err != nil {
		return "", "", err
	}
	postID, err := id.ParsePostID(r.PathValue("id"))
	if err != nil {
		return "", "", httpapi.NotFound("post not found").Wrap(err)
	}
	return user, postID, nil
}

// httpError turns the domain's errors into API errors; anything else is a
// 500 logged by httpapi.
func httpError(err error) error {
	var in *InputError
	switch {
	case errors.As(err, &in):
		return httpapi.Invalid(in.Message).Wrap(err)
	case errors.Is(err, ErrNotFound):
		return httpapi.NotFound("post not found").Wrap(err)
	case errors.Is(err, ErrForbidden):
		return httpapi.Forbidden("only the author may change this post").Wrap(err)
	}
	return err
}
