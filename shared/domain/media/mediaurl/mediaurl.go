// Package mediaurl is who may fetch a media file and how they are let in:
// media of public posts at their plain URL, every other file only through
// a short-lived signed URL (an HMAC-SHA256 over the object's key and the
// URL's expiry, under a secret the server holds).
//
// "Public" is decided by the post a media is attached to: a live PUBLIC
// post that moderation has not hidden. Media of FOLLOWERS_ONLY and PRIVATE
// posts, of hidden posts, and media attached to no post (an upload waiting
// for its post, a message's attachment) are restricted: the API hands each
// viewer it shows them to a signed URL. Media of a deleted post are gone.
package mediaurl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nova-social/nova/shared/domain/post"
)

// FilesPath is where nova-api serves media files.
const FilesPath = "/v1/media/files/"

// Query parameters of a signed URL.
const (
	ParamExpires   = "expires"
	ParamSignature = "signature"
)

// Audience is who may fetch a media's files.
type Audience int

const (
	// Restricted files are served only through a valid signed URL.
	Restricted Audience = iota
	// Public files are served to anyone and may be cached by anyone.
	Public
	// Gone files belong to a deleted post and are not served at all.
	Gone
)

// PublicPost reports whether the media of p are public: p is PUBLIC and
// not hidden by moderation. The API and the file server both ask it.
func PublicPost(visibility post.Visibility, hidden bool) bool {
	return visibility == post.Public && !hidden
}

var (
	// ErrExpired: the signed URL's time is past.
	ErrExpired = errors.New("mediaurl: signed URL expired")
	// ErrBadSignature: the signature does not match the key and expiry.
	ErrBadSignature = errors.New("mediaurl: bad signature")
)

// MinSecretBytes is the shortest secret accepted.
const MinSecretBytes = 32

// Config is how URLs are signed and how long caches keep files.
type Config struct {
	// Secret keys the signatures (MEDIA_URL_SECRET, from the nova-media
	// Secret; at least 32 bytes). Every replica needs the same one. Empty
	// makes a random secret, so signed URLs work on this process only:
	// enough for one local server, not for replicas.
	Secret []byte
	// TTL is how long a signed URL is valid (MEDIA_URL_TTL, default 15m, at
	// most 24h); its files are cached privately for no longer.
	TTL time.Duration
	// PublicMaxAge is how long anyone may cache a file of a public post
	// (MEDIA_PUBLIC_MAX_AGE, default 24h): the bound on how long a copy
	// outlives the post becoming private or deleted in caches that took it.
	PublicMaxAge time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Defaults returns c with zero fields set to their defaults; an empty
// secret becomes a random one.
func (c Config) Defaults() (Config, error) {
	if len(c.Secret) == 0 {
		c.Secret = make([]byte, MinSecretBytes)
		if _, err := rand.Read(c.Secret); err != nil {
			return c, fmt.Errorf("mediaurl: secret: %w", err)
		}
	}
	if c.TTL == 0 {
		c.TTL = 15 * time.Minute
	}
	if c.PublicMaxAge == 0 {
		c.PublicMaxAge = 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// Validate reports a configuration that cannot sign safely.
func (c Config) Validate() error {
	var errs []error
	if len(c.Secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("MEDIA_URL_SECRET has %d bytes, at least %d are needed", len(c.Secret), MinSecretBytes))
	}
	if c.TTL < time.Minute || c.TTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("MEDIA_URL_TTL %s outside [1m, 24h]", c.TTL))
	}
	if c.PublicMaxAge < 0 || c.PublicMaxAge > 365*24*time.Hour {
		errs = append(errs, fmt.Errorf("MEDIA_PUBLIC_MAX_AGE %s outside [0, 1 year]", c.PublicMaxAge))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mediaurl: %w", err)
	}
	return nil
}

// Signer signs and verifies media URLs. A nil *Signer signs nothing, for
// callers that serve no media.
type Signer struct {
	cfg Config
}

// New returns a Signer; cfg gets its defaults first.
func New(cfg Config) (*Signer, error) {
	cfg, err := cfg.Defaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Signer{cfg: cfg}, nil
}

// TTL is how long a signed URL is valid.
func (s *Signer) TTL() time.Duration { return s.cfg.TTL }

// PublicMaxAge is how long a public file may be cached.
func (s *Signer) PublicMaxAge() time.Duration { return s.cfg.PublicMaxAge }

func (s *Signer) mac(key string, expires int64) []byte {
	m := hmac.New(sha256.New, s.cfg.Secret)
	// The version and the separator keep one (key, expiry) pair from
	// reading as another.
	fmt.Fprintf(m, "nova-media-v1\n%s\n%d", key, expires)
	return m.Sum(nil)
}

// Sign returns the canonical media URL u (ending in FilesPath + key) with
// an expiry and a signature. The expiry is rounded up to the minute, so a
// viewer reading a post twice in a minute gets the same URL and its cache
// hits. A URL that is not a media file URL is returned as it is.
func (s *Signer) Sign(u string) string {
	if s == nil || u == "" {
		return u
	}
	base, _, _ := strings.Cut(u, "?")
	i := strings.Index(base, FilesPath)
	if i < 0 {
		return u
	}
	key := base[i+len(FilesPath):]
	exp := s.cfg.Now().Add(s.cfg.TTL).Add(time.Minute - 1).Truncate(time.Minute).Unix()
	return base + "?" + ParamExpires + "=" + strconv.FormatInt(exp, 10) + "&" + ParamSignature + "=" +
		base64.RawURLEncoding.EncodeToString(s.mac(key, exp))
}

// Verify checks a signed request for key and returns how long it remains
// valid. A bad signature is reported before the expiry is looked at, so
// an expired URL tells nothing about keys that were never signed.
func (s *Signer) Verify(key, expires, signature string) (time.Duration, error) {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return 0, ErrBadSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(signature)
	if err != nil || !hmac.Equal(sig, s.mac(key, exp)) {
		return 0, ErrBadSignature
	}
	left := time.Unix(exp, 0).Sub(s.cfg.Now())
	if left <= 0 {
		return 0, ErrExpired
	}
	return min(left, s.cfg.TTL+time.Minute), nil
}

// Media returns ms as a viewer is shown them: as they are when public,
// otherwise with signed URLs. ms is not changed.
func (s *Signer) Media(ms []post.Media, public bool) []post.Media {
	if s == nil || public || len(ms) == 0 {
		return ms
	}
	out := make([]post.Media, len(ms))
	for i, m := range ms {
		m.URL, m.ThumbnailURL = s.Sign(m.URL), s.Sign(m.ThumbnailURL)
		out[i] = m
	}
	return out
}
