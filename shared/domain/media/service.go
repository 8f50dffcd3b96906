package media

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/media/mediaurl"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Media is a stored upload as the API shows it.
type Media struct {
	post.Media
	OwnerID   string    `json:"owner_id"`
	PostID    string    `json:"post_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	key       string
	thumbKey  string
}

// Service is the media domain. It is safe for concurrent use.
type Service struct {
	cfg    Config
	urls   *mediaurl.Signer
	decode *budget
}

// New returns a Service; cfg gets its defaults first.
func New(cfg Config) (*Service, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.URLs.Secret) == 0 {
		cfg.Logger.Warn("MEDIA_URL_SECRET is not set: signed media URLs are valid on this process only")
	}
	urls, err := mediaurl.New(cfg.URLs)
	if err != nil {
		return nil, fmt.Errorf("media config: %w", err)
	}
	return &Service{cfg: cfg, urls: urls, decode: newBudget(cfg.Limits.DecodeMemory, cfg.Limits.DecodeWait)}, nil
}

// URLs signs the URLs of restricted media; the domains that show media
// (posts, feeds, messages) sign with it.
func (s *Service) URLs() *mediaurl.Signer { return s.urls }

// Staged is an upload read, measured and checked, held in a temporary file
// until Commit stores it. Close removes the file.
type Staged struct {
	Format    Format
	Metadata  Metadata
	Thumbnail []byte // JPEG; nil when there is none
	file      *os.File
}

// Close removes the temporary file.
func (s *Staged) Close() error {
	if s == nil || s.file == nil {
		return nil
	}
	name := s.file.Name()
	s.file.Close()
	s.file = nil
	return os.Remove(name)
}

// copyBufSize is the buffer the upload is copied through; with the sniffing
// reader's it is all the memory an upload holds, whatever its size.
const copyBufSize = 32 << 10

// Stage reads one uploaded file from r into a temporary file: the type is
// sniffed from the first bytes, the size limit of that type enforced while
// copying, then the file is probed (dimensions before any pixel is decoded,
// durations), cleaned of metadata (see strip.go; an image within the
// decoding budget only) and its thumbnail made. A rejected file leaves
// nothing behind.
func (s *Service) Stage(ctx context.Context, r io.Reader) (st *Staged, err error) {
	br := bufio.NewReaderSize(r, copyBufSize)
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("media: read upload: %w", err)
	}
	if len(head) == 0 {
		return nil, invalid("the file is empty")
	}
	f, ok := Sniff(head)
	if !ok {
		return nil, fmt.Errorf("%w: the content is none of JPEG, PNG, GIF, WebP, MP4, MOV, MP3, WAV, OGG, AAC or M4A", ErrUnsupported)
	}
	limit := s.cfg.Limits.MaxBytes(f.Type)

	tmp, err := os.CreateTemp(s.cfg.TempDir, "nova-upload-*")
	if err != nil {
		return nil, fmt.Errorf("media: temporary file: %w", err)
	}
	st = &Staged{Format: f, file: tmp}
	defer func() {
		if err != nil {
			st.Close()
			st = nil
		}
	}()
	n, err := io.Copy(tmp, io.LimitReader(br, limit+1))
	if err != nil {
		return st, fmt.Errorf("media: read upload: %w", err)
	}
	if n > limit {
		return st, &TooLargeError{What: "file", Detail: fmt.Sprintf("%s files may have at most %d bytes",
			strings.ToLower(string(f.Type)), limit)}
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if st.Metadata, err = Probe(tmp, n, f, s.cfg.Limits); err != nil {
		return st, err
	}
	switch f.Type {
	case Image:
		if err := s.cleanImage(ctx, st); err != nil {
			return st, err
		}
	case Audio:
		if err := blankAudioTags(tmp, n, f); err != nil {
			return st, err
		}
	case Video:
		if err := blankMP4Metadata(tmp, n); err != nil {
			return st, err
		}
		st.Thumbnail, err = VideoFrame(ctx, s.cfg.FFmpeg, tmp.Name(), s.cfg.ThumbnailSize)
		if err != nil {
			// The video itself is fine; it goes without a thumbnail.
			level := s.cfg.Logger.Warn
			if errors.Is(err, ErrNoDecoder) {
				level = s.cfg.Logger.Debug
			}
			level("video stored without a thumbnail", "error", err)
			st.Thumbnail, err = nil, nil
		}
	}
	return st, nil
}

// cleanImage decodes the staged image within the decoding budget, turns
// it upright, makes its thumbnail and replaces the staged file with one
// that carries the pixels and nothing else.
func (s *Service) cleanImage(ctx context.Context, st *Staged) error {
	f, size := st.Format, st.Metadata.SizeBytes
	src := st.file
	cfg, err := decodeConfig(bufio.NewReaderSize(io.NewSectionReader(src, 0, size), 16<<10), f)
	if err != nil {
		return fmt.Errorf("%w: %s header: %w", ErrCorrupt, f.Mime, err)
	}
	hdr := readHeader(src, size, f)
	cost := decodeCost(cfg, hdr.orientation != Upright, hdr.interlaced)
	if limit := s.cfg.Limits.MaxDecodeBytes; cost > limit {
		return &TooLargeError{What: "image", Detail: fmt.Sprintf(
			"a %dx%d image of this depth takes %d MiB to decode, more than the %d MiB allowed",
			cfg.Width, cfg.Height, cost>>20, limit>>20)}
	}
	release, err := s.decode.acquire(ctx, cost)
	if err != nil {
		return err
	}
	defer release()
	img, err := DecodeImage(io.NewSectionReader(src, 0, size), f)
	if err != nil {
		return err
	}
	img = Orient(img, hdr.orientation)
	if st.Thumbnail, err = Thumbnail(img, s.cfg.ThumbnailSize); err != nil {
		return err
	}
	b := img.Bounds()
	st.Metadata.Width, st.Metadata.Height = int32(b.Dx()), int32(b.Dy())

	out, err := os.CreateTemp(s.cfg.TempDir, "nova-clean-*")
	if err != nil {
		return fmt.Errorf("media: temporary file: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	w := bufio.NewWriterSize(out, copyBufSize)
	switch f {
	case JPEG, PNG:
		err = encodeImage(w, img, f, hdr.icc)
	case GIF:
		err = stripGIF(w, io.NewSectionReader(src, 0, size))
	case WebP:
		err = stripWebP(w, src, size, hdr.orientation)
	default:
		err = fmt.Errorf("%w: %s", ErrUnsupported, f.Mime)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return err
	}
	n, err := out.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("media: cleaned image: %w", err)
	}
	// The cleaned file replaces the upload.
	st.Close()
	st.file, st.Metadata.SizeBytes, keep = out, n, true
	return nil
}

// RemoveMedia deletes media and their stored objects: what a deleted
// post takes with it. The rows go only once the objects are gone, so a
// failure is retried by the next call (the file server makes one when a
// deleted post's file is asked for). Unknown ids are skipped.
func (s *Service) RemoveMedia(ctx context.Context, ids []id.MediaID) error {
	valid := make([]string, 0, len(ids))
	for _, m := range ids {
		if p, err := id.ParseMediaID(m.String()); err == nil {
			valid = append(valid, p.String())
		}
	}
	if len(valid) == 0 {
		return nil
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT id::text, storage_key, coalesce(thumbnail_key, '') FROM media
		WHERE id = ANY($1::uuid[])`, valid)
	if err != nil {
		return fmt.Errorf("media: remove: %w", err)
	}
	type stored struct{ id, key, thumb string }
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stored, error) {
		var m stored
		return m, r.Scan(&m.id, &m.key, &m.thumb)
	})
	if err != nil {
		return fmt.Errorf("media: remove: %w", err)
	}
	var errs []error
	gone := make([]string, 0, len(found))
	for _, m := range found {
		var failed bool
		for _, k := range []string{m.key, m.thumb} {
			if k == "" {
				continue
			}
			if err := s.cfg.Store.Delete(ctx, k); err != nil {
				errs = append(errs, err)
				failed = true
			}
		}
		if !failed {
			gone = append(gone, m.id)
		}
	}
	if len(gone) > 0 {
		if _, err := s.cfg.Pool.Exec(ctx, `DELETE FROM media WHERE id = ANY($1::uuid[])`, gone); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("media: remove: %w", err)
	}
	return nil
}

// Commit stores a staged upload for owner, optionally for one of owner's
// posts: the original and its thumbnail go to the store, then the media row
// and MediaUploaded are written in one transaction. If anything fails the
// stored objects are removed again, so a failed upload leaves no object, no
// row and no event.
func (s *Service) Commit(ctx context.Context, owner id.UserID, postID id.PostID, st *Staged) (Media, error) {
	if owner.IsZero() {
		return Media{}, errors.New("media: commit: no owner")
	}
	if !postID.IsZero() {
		if err := s.cfg.Posts.MustOwn(ctx, owner, postID); err != nil {
			return Media{}, err
		}
	}
	mid := id.NewMediaID().String()
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	m := Media{
		Media: post.Media{
			ID: mid, Type: string(st.Format.Type), Width: st.Metadata.Width, Height: st.Metadata.Height,
			SizeBytes: st.Metadata.SizeBytes, MimeType: st.Format.Mime, DurationSeconds: st.Metadata.DurationSeconds(),
		},
		OwnerID: owner.String(), PostID: postID.String(), CreatedAt: now,
		key: Key(owner.String(), mid, st.Format),
	}
	m.URL = s.cfg.Store.URL(m.key)
	var stored []string
	ok := false
	defer func() {
		if ok {
			return
		}
		// A detached context: the request's may be what ended.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, k := range stored {
			if err := s.cfg.Store.Delete(cctx, k); err != nil {
				s.cfg.Logger.Error("rejected upload left an object behind", "key", k, "error", err)
			}
		}
	}()

	if _, err := st.file.Seek(0, io.SeekStart); err != nil {
		return Media{}, fmt.Errorf("media: rewind upload: %w", err)
	}
	stored = append(stored, m.key)
	if err := s.cfg.Store.Put(ctx, m.key, st.file, st.Metadata.SizeBytes, st.Format.Mime); err != nil {
		return Media{}, err
	}
	if st.Thumbnail != nil {
		m.thumbKey = ThumbnailKey(owner.String(), mid)
		m.ThumbnailURL = s.cfg.Store.URL(m.thumbKey)
		stored = append(stored, m.thumbKey)
		if err := s.cfg.Store.Put(ctx, m.thumbKey, bytes.NewReader(st.Thumbnail), int64(len(st.Thumbnail)), "image/jpeg"); err != nil {
			return Media{}, err
		}
	}
	ev := &eventsv1.MediaUploaded{
		MediaId: mid, PostId: m.PostID, UserId: m.OwnerID, Type: ProtoType(st.Format.Type),
		Url: m.URL, ThumbnailUrl: m.ThumbnailURL, UploadedAt: timestamppb.New(now),
		Metadata: &eventsv1.MediaMetadata{Width: m.Width, Height: m.Height, SizeBytes: m.SizeBytes,
			MimeType: m.MimeType, DurationSeconds: m.DurationSeconds},
	}
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO media (id, owner_id, post_id, type, mime_type, storage_key, thumbnail_key,
				url, thumbnail_url, width, height, size_bytes, duration_seconds, created_at)
			VALUES ($1, $2, NULLIF($3, '')::uuid, $4, $5, $6, NULLIF($7, ''), $8, $9, $10, $11, $12, $13, $14)`,
			mid, m.OwnerID, m.PostID, m.Type, m.MimeType, m.key, m.thumbKey, m.URL, m.ThumbnailURL,
			m.Width, m.Height, m.SizeBytes, m.DurationSeconds, now); err != nil {
			return fmt.Errorf("insert media: %w", err)
		}
		if _, err := s.cfg.Outbox.Enqueue(ctx, tx, ev, envelope.WithTime(now)); err != nil {
			return fmt.Errorf("enqueue MediaUploaded: %w", err)
		}
		return nil
	})
	if err != nil {
		return Media{}, fmt.Errorf("media: commit: %w", err)
	}
	ok = true
	return m, nil
}

// ProtoType maps a media type to its protobuf enum.
func ProtoType(t Type) eventsv1.MediaType {
	return eventsv1.MediaType(eventsv1.MediaType_value["MEDIA_TYPE_"+string(t)])
}

// Media returns those of ids that belong to owner, by id, as posts carry
// them; ids that are unknown or someone else's are left out. It is how the
// content domain checks the media_ids of a new post.
func (s *Service) Media(ctx context.Context, owner id.UserID, ids []id.MediaID) (map[string]post.Media, error) {
	return Owned(ctx, s.cfg.Pool, owner, ids)
}

// Owned reads the media among ids that owner uploaded, by id; the others
// are left out. It needs only the database, so consumers that attach media
// (chat-persist) can check ids without a media store.
func Owned(ctx context.Context, pool *pgxpool.Pool, owner id.UserID, ids []id.MediaID) (map[string]post.Media, error) {
	out := make(map[string]post.Media, len(ids))
	valid := make([]string, 0, len(ids))
	for _, raw := range ids {
		if m, err := id.ParseMediaID(raw.String()); err == nil {
			valid = append(valid, m.String())
		}
	}
	if len(valid) == 0 || owner.IsZero() {
		return out, nil
	}
	rows, err := pool.Query(ctx, `SELECT id::text, type, url, thumbnail_url, width, height, size_bytes, mime_type,
			duration_seconds FROM media WHERE owner_id = $1 AND id = ANY($2::uuid[])`, owner.String(), valid)
	if err != nil {
		return nil, fmt.Errorf("media: read media: %w", err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (post.Media, error) {
		var m post.Media
		err := r.Scan(&m.ID, &m.Type, &m.URL, &m.ThumbnailURL, &m.Width, &m.Height, &m.SizeBytes, &m.MimeType, &m.DurationSeconds)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("media: read media: %w", err)
	}
	for _, m := range ms {
		out[m.ID] = m
	}
	return out, nil
}
