package media_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/nova-social/nova/shared/domain/media"
	"github.com/nova-social/nova/shared/testrig"
)

// s3Server starts an S3-protocol server of the test's own (in memory) with
// one bucket, and returns a store on it as nova-api configures it from S3_*
// variables.
func s3Server(t testing.TB) *media.S3Store {
	t.Helper()
	srv := testrig.S3(t, "nova-media")
	cfg, err := media.EnvConfigFrom(map[string]string{
		"S3_ENDPOINT": srv.Addr(), "S3_BUCKET": "nova-media", "S3_ACCESS_KEY": "nova", "S3_SECRET_KEY": "nova-secret",
		"S3_REGION": "us-east-1", "S3_USE_SSL": "false",
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := media.NewStore(cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	return store.(*media.S3Store)
}

func objects(t testing.TB, s *media.S3Store) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for o := range s.Client().ListObjects(context.Background(), s.Bucket(), minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out[o.Key] = o.Size
	}
	return out
}

func get(t testing.TB, s *media.S3Store, key string) ([]byte, string) {
	t.Helper()
	obj, err := s.Client().GetObject(context.Background(), s.Bucket(), key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := obj.Stat()
	return b, st.ContentType
}

func TestUploadToS3(t *testing.T) {
	s3 := s3Server(t)
	r := newRig(t, s3)
	me, tok := r.user()
	jpg := encoded(t, media.JPEG, 640, 480)
	code, out := r.upload(tok, field{"file", "x.png", string(jpg)})
	if code != http.StatusCreated {
		t.Fatalf("upload = %d %v", code, out)
	}
	// The bucket is private: nova-api serves its objects.
	key := "media/" + me.String() + "/" + out["id"].(string) + "/original.jpg"
	if !strings.HasPrefix(out["url"].(string), media.FilesPath+key+"?") {
		t.Fatalf("url %v", out["url"])
	}
	got, ct := get(t, s3, key)
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(got)); err != nil || cfg.Width != 640 || ct != "image/jpeg" ||
		out["size_bytes"] != float64(len(got)) {
		t.Fatalf("stored %d bytes of %s: %+v %v", len(got), ct, cfg, err)
	}
	if res := r.get(out["url"].(string)); res.Code != http.StatusOK || !bytes.Equal(res.Body.Bytes(), got) {
		t.Fatalf("GET through nova-api = %d (%d bytes)", res.Code, res.Body.Len())
	}
	if objs := objects(t, s3); len(objs) != 2 {
		t.Fatalf("bucket holds %v, want the original and its thumbnail", objs)
	}

	// A rejected upload leaves the bucket as it was.
	status, _ := r.upload(tok, field{"file", "bomb.png", string(pngHeader(20000, 20000))})
	if status != http.StatusRequestEntityTooLarge || len(objects(t, s3)) != 2 {
		t.Fatalf("bomb = %d, bucket %v", status, objects(t, s3))
	}
}

// A video larger than minio-go's multipart threshold (16 MiB) goes up in
// parts read straight from the staged file.
func TestLargeVideoToS3InParts(t *testing.T) {
	s3 := s3Server(t)
	r := newRig(t, s3, func(c *media.Config) { c.FFmpeg = "off" })
	_, tok := r.user()
	clip, _ := os.ReadFile("testdata/clip.mp4")
	big := append([]byte(nil), clip...)
	pad := make([]byte, 17<<20)
	binary.BigEndian.PutUint32(pad, uint32(len(pad)))
	copy(pad[4:], "free")
	big = append(big, pad...)
	code, out := r.upload(tok, field{"file", "big.mp4", string(big)})
	if code != http.StatusCreated || out["size_bytes"] != float64(len(big)) || out["duration_seconds"] != 2.0 {
		t.Fatalf("upload = %d %v", code, out)
	}
	for k, size := range objects(t, s3) {
		if size != int64(len(big)) {
			t.Fatalf("%s has %d bytes, want %d", k, size, len(big))
		}
	}
}

func TestS3StoreDeleteAndValidation(t *testing.T) {
	s3 := s3Server(t)
	ctx := context.Background()
	if err := s3.Put(ctx, "../etc/passwd", strings.NewReader("x"), 1, "text/plain"); err == nil {
		t.Fatal("a key the server does not make was stored")
	}
	key := media.ThumbnailKey("0190a0b0-0000-7000-8000-000000000001", "0190a0b0-0000-7000-8000-000000000002")
	if err := s3.Put(ctx, key, strings.NewReader("jpeg"), 4, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if err := s3.Delete(ctx, key); err != nil || len(objects(t, s3)) != 0 {
		t.Fatalf("delete: %v, bucket %v", err, objects(t, s3))
	}
	if _, err := media.EnvConfigFrom(map[string]string{"S3_BUCKET": "b"}); err == nil {
		t.Fatal("S3_BUCKET without S3_ENDPOINT accepted")
	}
	if _, err := media.EnvConfigFrom(map[string]string{"S3_ENDPOINT": "https://s3.example.com", "S3_BUCKET": "b"}); err == nil {
		t.Fatal("an endpoint with a scheme accepted")
	}
	// TLS is on unless switched off in words the reader knows; a typo is
	// refused, not guessed.
	base := map[string]string{"S3_ENDPOINT": "s3.example.com", "S3_BUCKET": "b"}
	if cfg, err := media.EnvConfigFrom(base); err != nil || !cfg.Store.S3.UseSSL {
		t.Fatalf("S3_USE_SSL unset: %+v, %v; want TLS on", cfg.Store.S3, err)
	}
	base["S3_USE_SSL"] = "flase"
	if _, err := media.EnvConfigFrom(base); err == nil || !strings.Contains(err.Error(), `S3_USE_SSL="flase"`) {
		t.Fatalf("S3_USE_SSL=flase: %v, want it refused by name", err)
	}
}

// Check passes for the store's bucket and names a missing one.
func TestS3StoreCheck(t *testing.T) {
	s3 := s3Server(t)
	ctx := context.Background()
	if err := s3.Check(ctx); err != nil {
		t.Fatalf("existing bucket: %v", err)
	}
	cfg, err := media.EnvConfigFrom(map[string]string{
		"S3_ENDPOINT": s3.Client().EndpointURL().Host, "S3_BUCKET": "no-such-bucket", "S3_ACCESS_KEY": "nova", "S3_SECRET_KEY": "nova-secret",
		"S3_REGION": "us-east-1", "S3_USE_SSL": "false",
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := media.NewStore(cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.(*media.S3Store).Check(ctx); err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("missing bucket: %v", err)
	}
}
