package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nova-social/nova/shared/envconf"
)

// S3Config selects the S3 store (any S3-protocol server: AWS, MinIO, R2…).
type S3Config struct {
	Endpoint  string // S3_ENDPOINT, host[:port], e.g. s3.eu-west-1.amazonaws.com
	Bucket    string // S3_BUCKET; setting it selects the S3 store
	AccessKey string // S3_ACCESS_KEY
	SecretKey string // S3_SECRET_KEY
	Region    string // S3_REGION (optional)
	UseSSL    bool   // S3_USE_SSL, default true
}

// S3ConfigFrom reads the S3_* variables. S3_USE_SSL defaults to on, and a
// value that is not a boolean is an error rather than a guess either way.
func S3ConfigFrom(e *envconf.Env) S3Config {
	return S3Config{
		Endpoint: e.String("S3_ENDPOINT", ""), Bucket: e.String("S3_BUCKET", ""), AccessKey: e.String("S3_ACCESS_KEY", ""),
		SecretKey: e.String("S3_SECRET_KEY", ""), Region: e.String("S3_REGION", ""), UseSSL: e.Bool("S3_USE_SSL", true),
	}
}

// Enabled reports whether the S3 store is selected.
func (c S3Config) Enabled() bool { return c.Bucket != "" || c.Endpoint != "" }

// Validate reports a configuration the S3 store cannot work with.
func (c S3Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("S3_ENDPOINT is not set"))
	} else if strings.Contains(c.Endpoint, "/") {
		errs = append(errs, fmt.Errorf("S3_ENDPOINT %q must be host[:port], without a scheme or path (S3_USE_SSL picks https)", c.Endpoint))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("S3_BUCKET is not set"))
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, errors.New("S3_ACCESS_KEY and S3_SECRET_KEY go together"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("media: S3: %w", err)
	}
	return nil
}

// S3Store keeps objects in an S3 bucket through minio-go. The bucket is
// private: clients fetch objects through nova-api, which decides who may.
type S3Store struct {
	client *minio.Client
	bucket string
	public string
}

// NewS3Store connects (lazily: minio-go dials on the first request).
// URLs are publicURL (nova-api's public address, MEDIA_PUBLIC_URL) +
// /v1/media/files/<key>; transport may be nil.
func NewS3Store(c S3Config, publicURL string, transport http.RoundTripper) (*S3Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var creds *credentials.Credentials
	if c.AccessKey != "" {
		creds = credentials.NewStaticV4(c.AccessKey, c.SecretKey, "")
	} else {
		// No keys: the usual chain (environment, instance role).
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.IAM{}})
	}
	client, err := minio.New(c.Endpoint, &minio.Options{Creds: creds, Secure: c.UseSSL, Region: c.Region, Transport: transport})
	if err != nil {
		return nil, fmt.Errorf("media: S3 client: %w", err)
	}
	return &S3Store{client: client, bucket: c.Bucket, public: strings.TrimRight(publicURL, "/")}, nil
}

// Check reports whether the bucket can be reached and exists: a store
// that cannot take uploads must keep nova-api from reporting ready.
func (s *S3Store) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("media: S3 bucket %s: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("media: S3 bucket %s does not exist", s.bucket)
	}
	return nil
}

// Put uploads the object. Given an *os.File (a ReaderAt of known size),
// minio-go sends multipart sections straight from the file, without
// buffering parts in memory.
func (s *S3Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if !ValidKey(key) {
		return fmt.Errorf("%w: invalid key %q", ErrInvalid, key)
	}
	// DisableContentSha256: over TLS minio-go sends UNSIGNED-PAYLOAD
	// anyway; over plain HTTP it would chunk-sign every part (a SHA-256
	// pass over the bytes), and not every S3-compatible server decodes
	// aws-chunked part bodies.
	if _, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType: contentType, NumThreads: 2, DisableContentSha256: true,
	}); err != nil {
		return fmt.Errorf("media: S3 put %s: %w", key, err)
	}
	return nil
}

// Delete removes the object.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("media: S3 delete %s: %w", key, err)
	}
	return nil
}

// Get opens the object for serving; minio-go reads the ranges asked for.
func (s *S3Store) Get(ctx context.Context, key string) (Object, error) {
	if !ValidKey(key) {
		return Object{}, fmt.Errorf("%w: invalid key %q", ErrNotFound, key)
	}
	o, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return Object{}, fmt.Errorf("media: S3 get %s: %w", key, err)
	}
	info, err := o.Stat()
	if err != nil {
		o.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return Object{}, fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		return Object{}, fmt.Errorf("media: S3 get %s: %w", key, err)
	}
	return Object{ReadSeekCloser: o, Size: info.Size, ModTime: info.LastModified}, nil
}

// URL is where nova-api serves the object.
func (s *S3Store) URL(key string) string { return s.public + FilesPath + key }

// Client is the underlying minio client (for tests and tools).
func (s *S3Store) Client() *minio.Client { return s.client }

// Bucket is the store's bucket.
func (s *S3Store) Bucket() string { return s.bucket }
