package media_test

import (
	"bytes"
	"fmt"
	"image/jpeg"
	stdpng "image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/media"
	"github.com/nova-social/nova/shared/id"
)

func TestUploadImageForOwnPost(t *testing.T) {
	r := newRig(t, nil)
	me, tok := r.user()
	postID := r.post(me)
	png := encoded(t, media.PNG, 800, 600)
	code, out := r.upload(tok, field{"post_id", "", postID}, field{"file", "whatever.gif", string(png)})
	if code != http.StatusCreated {
		t.Fatalf("upload = %d %v", code, out)
	}
	mid := out["id"].(string)
	if out["type"] != "IMAGE" || out["mime_type"] != "image/png" || out["width"] != 800.0 || out["height"] != 600.0 ||
		out["post_id"] != postID || out["owner_id"] != me.String() {
		t.Fatalf("media %v", out)
	}
	if _, has := out["duration_seconds"]; has {
		t.Fatalf("an image with a duration: %v", out)
	}
	// Not attached to a post yet (media-attach does that), so the
	// uploader is handed signed URLs.
	wantKey := fmt.Sprintf("media/%s/%s/original.png", me, mid)
	url, thumbURL := out["url"].(string), out["thumbnail_url"].(string)
	if !strings.HasPrefix(url, media.FilesPath+wantKey+"?expires=") || !strings.Contains(url, "&signature=") ||
		!strings.HasPrefix(thumbURL, fmt.Sprintf("%smedia/%s/%s/thumbnail.jpg?expires=", media.FilesPath, me, mid)) {
		t.Fatalf("urls %v %v", url, thumbURL)
	}
	if got := strings.Join(r.files(), " "); got != fmt.Sprintf("media/%s/%s/original.png media/%s/%s/thumbnail.jpg", me, mid, me, mid) {
		t.Fatalf("store holds %s", got)
	}

	// Both are served back, with the sniffed type; the original is the
	// image encoded again (no metadata), as large as the upload says.
	res := r.get(url)
	stored, _ := os.ReadFile(r.dir + "/" + wantKey)
	if res.Code != http.StatusOK || !bytes.Equal(res.Body.Bytes(), stored) || res.Header().Get("Content-Type") != "image/png" ||
		res.Header().Get("X-Content-Type-Options") != "nosniff" || out["size_bytes"] != float64(len(stored)) {
		t.Fatalf("GET original = %d %v (%d bytes)", res.Code, res.Header(), res.Body.Len())
	}
	if cfg, err := stdpng.DecodeConfig(bytes.NewReader(stored)); err != nil || cfg.Width != 800 || cfg.Height != 600 {
		t.Fatalf("stored PNG %+v %v", cfg, err)
	}
	res = r.get(thumbURL)
	thumb, err := jpeg.DecodeConfig(res.Body)
	if res.Code != http.StatusOK || err != nil || thumb.Width != 320 || thumb.Height != 240 {
		t.Fatalf("thumbnail = %d %+v %v", res.Code, thumb, err)
	}

	// One row, one event with every field of the design document.
	if n := r.count(`SELECT count(*) FROM media WHERE id = $1 AND owner_id = $2 AND post_id = $3`, mid, me.String(), postID); n != 1 {
		t.Fatalf("%d media rows", n)
	}
	evs := r.events()
	if len(evs) != 1 {
		t.Fatalf("%d MediaUploaded events", len(evs))
	}
	ev := evs[0]
	md := ev.GetMetadata()
	if ev.GetMediaId() != mid || ev.GetPostId() != postID || ev.GetUserId() != me.String() ||
		ev.GetType() != eventsv1.MediaType_MEDIA_TYPE_IMAGE || ev.GetUrl() != media.FilesPath+wantKey ||
		!strings.HasPrefix(thumbURL, ev.GetThumbnailUrl()+"?") || ev.GetUploadedAt() == nil ||
		md.GetWidth() != 800 || md.GetHeight() != 600 || md.GetSizeBytes() != int64(len(stored)) ||
		md.GetMimeType() != "image/png" || md.DurationSeconds != nil {
		t.Fatalf("event %v", ev)
	}
	var key string
	if err := r.pool.QueryRow(r.ctx, `SELECT key FROM nova_outbox WHERE type = $1`, r.uploadedType()).Scan(&key); err != nil || key != me.String() {
		t.Fatalf("event key %q (%v), want the user id", key, err)
	}

	// The content domain sees the owner's media, and only the owner's.
	other, _ := r.user()
	if got, err := r.svc.Media(r.ctx, me, []id.MediaID{id.MediaID(mid)}); err != nil || got[mid].URL != media.FilesPath+wantKey {
		t.Fatalf("Media(owner) = %v %v", got, err)
	}
	if got, err := r.svc.Media(r.ctx, other, []id.MediaID{id.MediaID(mid)}); err != nil || len(got) != 0 {
		t.Fatalf("Media(other) = %v %v", got, err)
	}
}

func TestUploadVideoAndAudio(t *testing.T) {
	r := newRig(t, nil)
	_, tok := r.user()
	mp4, _ := os.ReadFile("testdata/clip.mp4")
	code, out := r.upload(tok, field{"file", "clip.bin", string(mp4)})
	if code != http.StatusCreated || out["type"] != "VIDEO" || out["mime_type"] != "video/mp4" ||
		out["width"] != 64.0 || out["height"] != 48.0 || out["duration_seconds"] != 2.0 {
		t.Fatalf("video upload = %d %v", code, out)
	}
	// A video frame needs a decoder: with ffmpeg there is a thumbnail,
	// without it the video is stored all the same and has none.
	_, lookErr := exec.LookPath("ffmpeg")
	if lookErr == nil {
		if out["thumbnail_url"] == nil || len(r.files()) != 2 {
			t.Fatalf("ffmpeg is installed but the video has no thumbnail: %v %v", out, r.files())
		}
	} else {
		t.Logf("ffmpeg not on PATH (%v): checking the video is stored without a thumbnail", lookErr)
		if _, has := out["thumbnail_url"]; has || len(r.files()) != 1 {
			t.Fatalf("without ffmpeg: %v %v", out, r.files())
		}
	}
	wav, _ := os.ReadFile("testdata/tone.wav")
	code, out = r.upload(tok, field{"file", "a.mp3", string(wav)})
	if code != http.StatusCreated || out["type"] != "AUDIO" || out["mime_type"] != "audio/wav" || out["duration_seconds"] != 3.0 {
		t.Fatalf("audio upload = %d %v", code, out)
	}
	if _, has := out["thumbnail_url"]; has {
		t.Fatalf("audio with a thumbnail: %v", out)
	}
}

func TestVideoWithoutDecoderHasNoThumbnail(t *testing.T) {
	r := newRig(t, nil, func(c *media.Config) { c.FFmpeg = "off" })
	_, tok := r.user()
	mp4, _ := os.ReadFile("testdata/clip.mp4")
	code, out := r.upload(tok, field{"file", "clip.mp4", string(mp4)})
	if _, has := out["thumbnail_url"]; code != http.StatusCreated || has || len(r.files()) != 1 {
		t.Fatalf("upload = %d %v, store %v", code, out, r.files())
	}
	if ev := r.events(); len(ev) != 1 || ev[0].GetThumbnailUrl() != "" {
		t.Fatalf("events %v", ev)
	}
}

func TestRejectedUploadsLeaveNothingBehind(t *testing.T) {
	r := newRig(t, nil, func(c *media.Config) { c.Limits.MaxVideoBytes = 2000 })
	me, tok := r.user()
	other, _ := r.user()
	othersPost := r.post(other)
	jpg := encoded(t, media.JPEG, 200, 150)
	mp4, _ := os.ReadFile("testdata/clip.mp4") // 3671 bytes, over the 2000 allowed here
	for name, tc := range map[string]struct {
		token  string
		fields []field
		status int
		code   string
	}{
		"text named .jpg":      {tok, []field{{"file", "photo.jpg", "just some text, not a photo\n"}}, 415, "unsupported_media_type"},
		"truncated image":      {tok, []field{{"file", "photo.jpg", string(jpg[:len(jpg)/2])}}, 400, "validation_failed"},
		"20000x20000 PNG bomb": {tok, []field{{"file", "bomb.png", string(pngHeader(20000, 20000))}}, 413, "payload_too_large"},
		"oversized video":      {tok, []field{{"file", "clip.mp4", string(mp4)}}, 413, "payload_too_large"},
		"someone else's post":  {tok, []field{{"post_id", "", othersPost}, {"file", "p.jpg", string(jpg)}}, 403, "forbidden"},
		"post after the file":  {tok, []field{{"file", "p.jpg", string(jpg)}, {"post_id", "", othersPost}}, 403, "forbidden"},
		"no such post":         {tok, []field{{"post_id", "", id.NewPostID().String()}, {"file", "p.jpg", string(jpg)}}, 404, "not_found"},
		"malformed post id":    {tok, []field{{"post_id", "", "../../etc"}, {"file", "p.jpg", string(jpg)}}, 400, "validation_failed"},
		"missing token":        {"", []field{{"file", "p.jpg", string(jpg)}}, 401, "unauthorized"},
		"no file":              {tok, []field{{"post_id", "", r.post(me)}}, 400, "validation_failed"},
		"empty file":           {tok, []field{{"file", "p.jpg", ""}}, 400, "validation_failed"},
		"two files":            {tok, []field{{"file", "p.jpg", string(jpg)}, {"file", "q.jpg", string(jpg)}}, 400, "validation_failed"},
	} {
		t.Run(name, func(t *testing.T) {
			status, out := r.upload(tc.token, tc.fields...)
			e, _ := out["error"].(map[string]any)
			if status != tc.status || e["code"] != tc.code {
				t.Fatalf("= %d %v, want %d %s", status, out, tc.status, tc.code)
			}
			if f := r.files(); len(f) != 0 {
				t.Fatalf("store holds %v", f)
			}
			if n := r.count(`SELECT count(*) FROM media`); n != 0 {
				t.Fatalf("%d media rows", n)
			}
			if ev := r.events(); len(ev) != 0 {
				t.Fatalf("%d events", len(ev))
			}
		})
	}
	// Not multipart at all.
	req := httptest.NewRequest(http.MethodPost, "/v1/media", strings.NewReader(`{"file":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("JSON body = %d %s", rec.Code, rec.Body)
	}
	// The temporary directory is empty too.
	if left, _ := os.ReadDir(r.tempDir()); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestFilesRefuseKeysTheServerDidNotMake(t *testing.T) {
	r := newRig(t, nil)
	secret := r.dir + "/../secret.txt"
	os.WriteFile(secret, []byte("TOP-SECRET-CONTENT"), 0o600)
	for _, p := range []string{
		media.FilesPath + "../secret.txt",
		media.FilesPath + "..%2fsecret.txt",
		media.FilesPath + "media/x/y/original.png",
		media.FilesPath + "media/" + id.NewUserID().String() + "/" + id.NewMediaID().String() + "/original.png",
	} {
		rec := httptest.NewRecorder()
		r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code == http.StatusOK || strings.Contains(rec.Body.String(), "TOP-SECRET") {
			t.Errorf("GET %s = %d %q", p, rec.Code, rec.Body)
		}
	}
}
