package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/media/mediaurl"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// formOverhead allows for the multipart framing and the small fields
// around the file in a request body.
const formOverhead = 1 << 20

// Mount registers the media endpoints on mux:
//
//	POST /v1/media               multipart/form-data: file, optional post_id
//	                             (bearer token) → 201 media
//	GET  /v1/media/files/{key}   a stored object, from either store (no
//	                             token: URLs are meant for <img src>); a
//	                             restricted one only with a valid
//	                             ?expires=&signature= (see mediaurl)
func (s *Service) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	log := s.cfg.Logger
	mux.Handle("POST /v1/media", authed(httpapi.Handle(log, s.handleUpload)))
	mux.Handle("GET "+FilesPath+"{key...}", httpapi.Handle(log, s.serveFile))
}

func (s *Service) handleUpload(w http.ResponseWriter, r *http.Request) error {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.UserID.IsZero() {
		return httpapi.Unauthorized("a bearer token is required").
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`"`)
	}
	owner := p.UserID
	// A large video takes longer than the server's default read deadline
	// to arrive; this request alone gets longer.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.UploadTimeout))
	l := s.cfg.Limits
	r.Body = http.MaxBytesReader(w, r.Body, max(l.MaxImageBytes, l.MaxVideoBytes, l.MaxAudioBytes)+formOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		return httpapi.NewError(http.StatusUnsupportedMediaType, httpapi.CodeUnsupportedMediaType,
			"send multipart/form-data with a file field (and optionally post_id)").Wrap(err)
	}
	var (
		staged *Staged
		postID id.PostID
	)
	defer func() { staged.Close() }()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return uploadError(err)
		}
		switch part.FormName() {
		case "post_id":
			raw, err := io.ReadAll(io.LimitReader(part, 128))
			if err != nil {
				return uploadError(err)
			}
			if postID, err = id.ParsePostID(string(raw)); err != nil {
				return httpapi.Invalid("post_id is not a post id").Wrap(err)
			}
			if staged == nil {
				// Before the file: refuse a wrong post before reading it.
				if err := s.cfg.Posts.MustOwn(r.Context(), owner, postID); err != nil {
					return uploadError(err)
				}
			}
		case "file":
			if staged != nil {
				return httpapi.Invalid("one file per upload")
			}
			if staged, err = s.Stage(r.Context(), part); err != nil {
				return uploadError(err)
			}
		}
		part.Close()
	}
	if staged == nil {
		return httpapi.Invalid("the file field is required")
	}
	m, err := s.Commit(r.Context(), owner, postID, staged)
	if err != nil {
		return uploadError(err)
	}
	// Not attached yet, so restricted: the uploader gets signed URLs.
	m.URL, m.ThumbnailURL = s.urls.Sign(m.URL), s.urls.Sign(m.ThumbnailURL)
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusCreated, m)
	return nil
}

// uploadError turns the domain's errors into API errors; anything else is
// a 500 logged by httpapi.
func uploadError(err error) error {
	var (
		big *TooLargeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &big):
		return httpapi.NewError(http.StatusRequestEntityTooLarge, httpapi.CodePayloadTooLarge, big.Error()).Wrap(err)
	case errors.As(err, &mbe):
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, httpapi.CodePayloadTooLarge,
			"the request body exceeds %d bytes", mbe.Limit).Wrap(err)
	case errors.Is(err, ErrUnsupported):
		return httpapi.NewError(http.StatusUnsupportedMediaType, httpapi.CodeUnsupportedMediaType,
			"unsupported file type: images may be JPEG, PNG, GIF or WebP, videos MP4 or MOV, audio MP3, WAV, OGG, AAC or M4A").Wrap(err)
	case errors.Is(err, ErrBusy):
		return httpapi.Unavailable("the server is busy processing images; try again shortly").
			WithHeader("Retry-After", "5").Wrap(err)
	case errors.Is(err, ErrCorrupt):
		return httpapi.Invalid("the file is truncated or corrupt").Wrap(err)
	case errors.Is(err, ErrInvalid):
		return httpapi.Invalid(errors.Unwrap(err).Error()).Wrap(err)
	case errors.Is(err, content.ErrNotFound):
		return httpapi.NotFound("post not found").Wrap(err)
	case errors.Is(err, content.ErrForbidden):
		return httpapi.Forbidden("media can only be attached to your own posts").Wrap(err)
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return httpapi.NewError(http.StatusRequestTimeout, httpapi.CodeBadRequest, "the upload took too long").Wrap(err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return httpapi.BadRequest("the multipart body ended early").Wrap(err)
	}
	return err
}

// serveFile serves a stored object, with range support for video players.
// Only keys of the server's own shape are looked up. A signed URL is
// checked before anything about the key is, so a forged or expired one
// learns nothing; an unsigned request for a file that is not public reads
// as one for a file that does not exist.
func (s *Service) serveFile(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	mid, ok := keyMedia(key)
	if !ok {
		return httpapi.NotFound("no such file")
	}
	var signedFor time.Duration
	if q := r.URL.Query(); q.Has(mediaurl.ParamExpires) || q.Has(mediaurl.ParamSignature) {
		left, err := s.urls.Verify(key, q.Get(mediaurl.ParamExpires), q.Get(mediaurl.ParamSignature))
		if errors.Is(err, mediaurl.ErrExpired) {
			return httpapi.Forbidden("this media link has expired; read the post again for a fresh one").Wrap(err)
		}
		if err != nil {
			return httpapi.Forbidden("this media link is not valid").Wrap(err)
		}
		signedFor = left
	}
	aud, err := s.audience(r.Context(), mid)
	if err != nil {
		return err
	}
	switch {
	case aud == mediaurl.Gone:
		// Removed with its post; if that removal failed, finish it now.
		if err := s.RemoveMedia(context.WithoutCancel(r.Context()), []id.MediaID{mid}); err != nil {
			s.cfg.Logger.WarnContext(r.Context(), "media of a deleted post left in the store", "media", mid, "error", err)
		}
		return httpapi.NotFound("no such file")
	case aud == mediaurl.Restricted && signedFor <= 0:
		return httpapi.NotFound("no such file")
	}
	o, err := s.cfg.Store.Get(r.Context(), key)
	if errors.Is(err, ErrNotFound) {
		return httpapi.NotFound("no such file").Wrap(err)
	}
	if err != nil {
		return err
	}
	defer o.Close()
	ct := mime.TypeByExtension(path.Ext(key))
	if f, ok := formatByExt(path.Ext(key)); ok {
		ct = f.Mime
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	// Uploaded bytes are served as the type they were sniffed as, never
	// reinterpreted, and can run no script.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox; frame-ancestors 'none'")
	// A key never changes content (a new upload is a new key), but who may
	// read it does: shared caches keep public files for a bounded time
	// and restricted ones not at all, a browser no longer than its link.
	if aud == mediaurl.Public {
		h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d, immutable", int(s.urls.PublicMaxAge().Seconds())))
	} else {
		h.Set("Cache-Control", fmt.Sprintf("private, max-age=%d", int(signedFor.Seconds())))
	}
	http.ServeContent(w, r, "", o.ModTime, o)
	return nil
}

// audience asks who may fetch mid's files; without an answer source
// every file is restricted.
func (s *Service) audience(ctx context.Context, mid id.MediaID) (mediaurl.Audience, error) {
	if s.cfg.Audiences == nil {
		return mediaurl.Restricted, nil
	}
	a, err := s.cfg.Audiences.MediaAudience(ctx, mid)
	if err != nil {
		return 0, fmt.Errorf("media: audience of %s: %w", mid, err)
	}
	return a, nil
}

// keyMedia is the media id in a key the server made.
func keyMedia(key string) (id.MediaID, bool) {
	if !ValidKey(key) {
		return "", false
	}
	parts := strings.Split(key, "/") // media/<owner>/<media>/<file>
	m, err := id.ParseMediaID(parts[2])
	return m, err == nil
}

func formatByExt(ext string) (Format, bool) {
	for _, f := range []Format{JPEG, PNG, GIF, WebP, MP4, MOV, MP3, WAV, OGG, AAC, M4A} {
		if "."+f.Ext == ext {
			return f, true
		}
	}
	return Format{}, false
}
