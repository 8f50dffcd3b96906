package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/nova-social/nova/shared/domain/media/mediaurl"
)

// Store is object storage for uploaded files and their thumbnails. Keys are
// made by the server only (Key, ThumbnailKey) and checked by ValidKey.
type Store interface {
	// Put stores size bytes read from r under key, replacing nothing that
	// is visible until the whole object is written.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Get opens key for serving; a missing key is ErrNotFound.
	Get(ctx context.Context, key string) (Object, error)
	// URL is where clients fetch key: nova-api's files endpoint, which
	// decides who may (the bucket itself stays private).
	URL(key string) string
}

// Object is a stored object opened for serving.
type Object struct {
	io.ReadSeekCloser
	Size    int64
	ModTime time.Time
}

// keyPattern is the only shape of key the server makes: media/<owner>/<media>/
// original.<ext> or thumbnail.jpg, ids as canonical UUIDs.
var keyPattern = regexp.MustCompile(`^media/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/` +
	`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/(original\.[a-z0-9]{2,4}|thumbnail\.jpg)$`)

// ValidKey reports whether key has the shape of a key the server makes, so
// no client-supplied path ("../", absolute, encoded) can reach a store.
func ValidKey(key string) bool { return keyPattern.MatchString(key) }

// Key is the storage key of an original file.
func Key(owner, mediaID string, f Format) string {
	return "media/" + owner + "/" + mediaID + "/original." + f.Ext
}

// ThumbnailKey is the storage key of a thumbnail, beside its original.
func ThumbnailKey(owner, mediaID string) string {
	return "media/" + owner + "/" + mediaID + "/thumbnail.jpg"
}

// FSStore keeps objects as files under a directory: the store of `make
// run`.
type FSStore struct {
	dir       string
	publicURL string
}

// NewFSStore returns a store rooted at dir (created on first Put). URLs
// are publicURL + /v1/media/files/<key>; an empty publicURL gives
// root-relative URLs.
func NewFSStore(dir, publicURL string) (*FSStore, error) {
	if dir == "" {
		return nil, errors.New("media: filesystem store needs a directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("media: store directory: %w", err)
	}
	return &FSStore{dir: abs, publicURL: strings.TrimRight(publicURL, "/")}, nil
}

// Dir is the store's root.
func (s *FSStore) Dir() string { return s.dir }

func (s *FSStore) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("%w: invalid key %q", ErrNotFound, key)
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// Put writes to a temporary file beside the target and renames it, so a
// reader never sees half an object.
func (s *FSStore) Put(ctx context.Context, key string, r io.Reader, size int64, _ string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("media: store: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return fmt.Errorf("media: store: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes, expected %d", n, size)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return fmt.Errorf("media: store %s: %w", key, err)
	}
	return nil
}

// Delete removes the object and the directories it leaves empty.
func (s *FSStore) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("media: delete %s: %w", key, err)
	}
	s.removeEmptyParents(p)
	return nil
}

// removeEmptyParents removes the directories above p that are now empty,
// up to the store's root. Best effort: the first that is not empty (or
// cannot go) ends it, and a left-over empty directory harms nothing.
func (s *FSStore) removeEmptyParents(p string) {
	for d := filepath.Dir(p); d != s.dir && strings.HasPrefix(d, s.dir); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			return
		}
	}
}

// URL is where nova-api serves key.
func (s *FSStore) URL(key string) string { return s.publicURL + FilesPath + key }

// Get opens a stored object for serving.
func (s *FSStore) Get(_ context.Context, key string) (Object, error) {
	p, err := s.path(key)
	if err != nil {
		return Object{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return Object{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return Object{}, fmt.Errorf("media: open %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return Object{}, fmt.Errorf("media: open %s: %w", key, err)
	}
	return Object{ReadSeekCloser: f, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// FilesPath is where nova-api serves media files, whatever the store.
const FilesPath = mediaurl.FilesPath

// NewStore builds the store the configuration selects: S3 when S3_BUCKET
// or S3_ENDPOINT is set, the filesystem store under Dir otherwise.
func NewStore(c StoreConfig) (Store, error) {
	if c.S3.Enabled() {
		return NewS3Store(c.S3, c.PublicURL, nil)
	}
	return NewFSStore(c.Dir, c.PublicURL)
}
