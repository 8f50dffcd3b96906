package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/domain/media/mediaurl"
	"github.com/nova-social/nova/shared/envconf"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
)

// PostOwner checks that a post exists and belongs to a user; *content.Service
// implements it. It returns content.ErrNotFound or content.ErrForbidden
// otherwise.
type PostOwner interface {
	MustOwn(ctx context.Context, user id.UserID, post id.PostID) error
}

// Limits bound what an upload may be.
type Limits struct {
	// Bytes per type: MEDIA_MAX_IMAGE_BYTES (default 20 MB),
	// MEDIA_MAX_VIDEO_BYTES (500 MB), MEDIA_MAX_AUDIO_BYTES (50 MB).
	MaxImageBytes int64
	MaxVideoBytes int64
	MaxAudioBytes int64
	// MaxImagePixels and MaxImageSide refuse decompression bombs before any
	// pixel is decoded: MEDIA_MAX_IMAGE_PIXELS (default 40,000,000),
	// MEDIA_MAX_IMAGE_SIDE (12000).
	MaxImagePixels int64
	MaxImageSide   int
	// MaxDecodeBytes refuses an image whose decoded pixels (by the
	// dimensions, colour model and bit depth its header declares, twice
	// when it must be turned upright) would take more memory:
	// MEDIA_MAX_DECODE_BYTES (default 128 MiB). A 6300×6300 16-bit RGBA
	// PNG is within the pixel limits but takes 318 MB.
	MaxDecodeBytes int64
	// DecodeMemory is what all the images a process decodes at once may
	// take together (MEDIA_DECODE_MEMORY, default 256 MiB, at least
	// MaxDecodeBytes); an upload waits for room up to DecodeWait
	// (MEDIA_DECODE_WAIT, default 30s) and is then refused with a 503.
	DecodeMemory int64
	DecodeWait   time.Duration
}

// MaxBytes is the size limit of a type.
func (l Limits) MaxBytes(t Type) int64 {
	switch t {
	case Image:
		return l.MaxImageBytes
	case Video:
		return l.MaxVideoBytes
	}
	return l.MaxAudioBytes
}

// Storage configuration read from the environment: the S3 store when
// S3_BUCKET is set, the filesystem store otherwise.
type StoreConfig struct {
	// Dir is the filesystem store's root (MEDIA_DIR, default .nova/media).
	Dir string
	// PublicURL prefixes media URLs (MEDIA_PUBLIC_URL, nova-api's public
	// address, e.g. https://api.example.com, or a CDN in front of it);
	// empty gives root-relative URLs /v1/media/files/<key> on nova-api.
	PublicURL string
	S3        S3Config
}

// Config holds the Service's dependencies and limits.
type Config struct {
	Pool   *pgxpool.Pool
	Outbox *outbox.Outbox
	Store  Store
	Posts  PostOwner
	Logger *slog.Logger
	Limits Limits
	// TempDir holds uploads while they are checked (MEDIA_TMP_DIR, default
	// the system's). Nothing reaches the store before the whole file has
	// been read, measured and probed.
	TempDir string
	// ThumbnailSize bounds the thumbnail's longer side. Default 320.
	ThumbnailSize int
	// FFmpeg is the ffmpeg binary for video thumbnails (MEDIA_FFMPEG;
	// default "ffmpeg" looked up on PATH; "off" disables). Without it
	// videos get no thumbnail.
	FFmpeg string
	// UploadTimeout is how long one upload may take to arrive; it lifts
	// the server's read deadline for the upload request. Default 30m.
	UploadTimeout time.Duration
	// URLs signs the URLs of restricted media and sets how long files are
	// cached (MEDIA_URL_SECRET, MEDIA_URL_TTL, MEDIA_PUBLIC_MAX_AGE).
	URLs mediaurl.Config
	// Audiences says who may fetch a media's files (the content domain,
	// which knows its post); nil makes every file restricted.
	Audiences Audiences
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Audiences says who may fetch a media's files by the post it is attached
// to (mediaurl.PublicPost); *content.Service implements it.
type Audiences interface {
	MediaAudience(ctx context.Context, media id.MediaID) (mediaurl.Audience, error)
}

// AudienceFunc adapts a function to Audiences.
type AudienceFunc func(ctx context.Context, media id.MediaID) (mediaurl.Audience, error)

// MediaAudience calls f.
func (f AudienceFunc) MediaAudience(ctx context.Context, media id.MediaID) (mediaurl.Audience, error) {
	return f(ctx, media)
}

// DefaultLimits are the limits when none are configured.
func DefaultLimits() Limits {
	return Limits{MaxImageBytes: 20 << 20, MaxVideoBytes: 500 << 20, MaxAudioBytes: 50 << 20,
		MaxImagePixels: 40_000_000, MaxImageSide: 12000,
		MaxDecodeBytes: 128 << 20, DecodeMemory: 256 << 20, DecodeWait: 30 * time.Second}
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	d := DefaultLimits()
	l := &c.Limits
	for _, f := range []struct{ dst, def *int64 }{
		{&l.MaxImageBytes, &d.MaxImageBytes}, {&l.MaxVideoBytes, &d.MaxVideoBytes},
		{&l.MaxAudioBytes, &d.MaxAudioBytes}, {&l.MaxImagePixels, &d.MaxImagePixels},
		{&l.MaxDecodeBytes, &d.MaxDecodeBytes}, {&l.DecodeMemory, &d.DecodeMemory},
	} {
		if *f.dst == 0 {
			*f.dst = *f.def
		}
	}
	if l.MaxImageSide == 0 {
		l.MaxImageSide = d.MaxImageSide
	}
	if l.DecodeWait == 0 {
		l.DecodeWait = d.DecodeWait
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	if c.ThumbnailSize == 0 {
		c.ThumbnailSize = 320
	}
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	if c.UploadTimeout == 0 {
		c.UploadTimeout = 30 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.URLs.Now == nil {
		c.URLs.Now = c.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a configuration the Service cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is nil"))
	}
	if c.Outbox == nil {
		errs = append(errs, errors.New("outbox is nil"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("store is nil"))
	}
	if c.Posts == nil {
		errs = append(errs, errors.New("post owner check is nil"))
	}
	l := c.Limits
	if l.MaxImageBytes < 1 || l.MaxVideoBytes < 1 || l.MaxAudioBytes < 1 || l.MaxImagePixels < 1 || l.MaxImageSide < 1 ||
		l.MaxDecodeBytes < 1 || l.DecodeWait <= 0 {
		errs = append(errs, fmt.Errorf("limits must be positive: %+v", l))
	}
	if l.DecodeMemory < l.MaxDecodeBytes {
		errs = append(errs, fmt.Errorf("decode memory %d is less than one image's %d", l.DecodeMemory, l.MaxDecodeBytes))
	}
	if c.ThumbnailSize < 16 || c.ThumbnailSize > 4096 {
		errs = append(errs, fmt.Errorf("thumbnail size %d outside 16..4096", c.ThumbnailSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("media config: %w", err)
	}
	return nil
}

// EnvConfig is the part of the media configuration that comes from the
// environment; nova-api adds the pool, outbox and post check.
type EnvConfig struct {
	Store   StoreConfig
	Limits  Limits
	TempDir string
	FFmpeg  string
	// UploadTimeout bounds one upload's arrival (MEDIA_UPLOAD_TIMEOUT, a
	// duration; default Config's).
	UploadTimeout time.Duration
	// URLs are the signed URLs' secret and lifetimes.
	URLs mediaurl.Config
}

// EnvConfigFrom reads MEDIA_* and S3_* variables.
func EnvConfigFrom(env map[string]string) (EnvConfig, error) {
	e := envconf.New(env)
	c := EnvConfig{
		Store: StoreConfig{Dir: e.String("MEDIA_DIR", DefaultDir), PublicURL: strings.TrimRight(e.String("MEDIA_PUBLIC_URL", ""), "/"),
			S3: S3ConfigFrom(e)},
		TempDir: e.String("MEDIA_TMP_DIR", ""),
		FFmpeg:  e.String("MEDIA_FFMPEG", ""),
	}
	// Zero means Config's default; a value set must be positive.
	l := &c.Limits
	l.MaxImageBytes = e.Int64("MEDIA_MAX_IMAGE_BYTES", 0)
	l.MaxVideoBytes = e.Int64("MEDIA_MAX_VIDEO_BYTES", 0)
	l.MaxAudioBytes = e.Int64("MEDIA_MAX_AUDIO_BYTES", 0)
	l.MaxImagePixels = e.Int64("MEDIA_MAX_IMAGE_PIXELS", 0)
	l.MaxImageSide = e.Int("MEDIA_MAX_IMAGE_SIDE", 0)
	l.MaxDecodeBytes = e.Int64("MEDIA_MAX_DECODE_BYTES", 0)
	l.DecodeMemory = e.Int64("MEDIA_DECODE_MEMORY", 0)
	l.DecodeWait = e.Duration("MEDIA_DECODE_WAIT", 0)
	c.UploadTimeout = e.Duration("MEDIA_UPLOAD_TIMEOUT", 0)
	c.URLs = mediaurl.Config{Secret: []byte(e.String("MEDIA_URL_SECRET", "")),
		TTL: e.Duration("MEDIA_URL_TTL", 0), PublicMaxAge: e.Duration("MEDIA_PUBLIC_MAX_AGE", 0)}
	errs := []error{e.Err()}
	for _, v := range []struct {
		name string
		n    int64
	}{
		{"MEDIA_MAX_IMAGE_BYTES", l.MaxImageBytes}, {"MEDIA_MAX_VIDEO_BYTES", l.MaxVideoBytes},
		{"MEDIA_MAX_AUDIO_BYTES", l.MaxAudioBytes}, {"MEDIA_MAX_IMAGE_PIXELS", l.MaxImagePixels},
		{"MEDIA_MAX_IMAGE_SIDE", int64(l.MaxImageSide)}, {"MEDIA_UPLOAD_TIMEOUT", int64(c.UploadTimeout)},
		{"MEDIA_MAX_DECODE_BYTES", l.MaxDecodeBytes}, {"MEDIA_DECODE_MEMORY", l.DecodeMemory},
		{"MEDIA_DECODE_WAIT", int64(l.DecodeWait)}, {"MEDIA_URL_TTL", int64(c.URLs.TTL)},
	} {
		if raw := strings.TrimSpace(env[v.name]); raw != "" && v.n <= 0 && !e.Failed(v.name) {
			errs = append(errs, fmt.Errorf("%s=%q is not positive", v.name, raw))
		}
	}
	if len(c.URLs.Secret) > 0 && len(c.URLs.Secret) < mediaurl.MinSecretBytes {
		errs = append(errs, fmt.Errorf("MEDIA_URL_SECRET has %d bytes, at least %d are needed", len(c.URLs.Secret), mediaurl.MinSecretBytes))
	}
	if c.Store.S3.Enabled() {
		if err := c.Store.S3.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// DefaultDir is the filesystem store's root when MEDIA_DIR is not set,
// relative to the working directory.
const DefaultDir = ".nova/media"

// PostOwnerFunc adapts a function to PostOwner.
type PostOwnerFunc func(ctx context.Context, user id.UserID, post id.PostID) error

// MustOwn calls f.
func (f PostOwnerFunc) MustOwn(ctx context.Context, user id.UserID, post id.PostID) error {
	return f(ctx, user, post)
}
