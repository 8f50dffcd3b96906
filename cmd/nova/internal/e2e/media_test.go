package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // thumbnails
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/domain/pendingmedia"
	"github.com/nova-social/nova/shared/testrig"
)

// startWithMedia is start with the filesystem media store in a temporary
// directory (MEDIA_DIR), so uploads stay out of the source tree.
func startWithMedia(t *testing.T) *rig {
	t.Helper()
	return startWith(t, system.Config{Environ: map[string]string{"MEDIA_DIR": t.TempDir(), "MEDIA_TMP_DIR": t.TempDir()}})
}

func photo(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.White)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload posts a file (and a post_id when given) to POST /v1/media.
func (r *rig) upload(u user, file []byte, postID string) (int, map[string]any) {
	r.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if postID != "" {
		w.WriteField("post_id", postID)
	}
	fw, _ := w.CreateFormFile("file", "photo.png")
	fw.Write(file)
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, r.api+"/v1/media", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if u.Token != "" {
		req.Header.Set("Authorization", "Bearer "+u.Token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		r.t.Fatal(err)
	}
	return res.StatusCode, out
}

// mediaOf returns the media ids of a post as the API shows it.
func mediaOf(p map[string]any) []string {
	var ids []string
	ms, _ := p["media"].([]any)
	for _, m := range ms {
		ids = append(ids, m.(map[string]any)["id"].(string))
	}
	return ids
}

// feedMedia returns the media ids of postID in u's feed, and whether the
// post is there.
func (r *rig) feedMedia(u user, postID string) ([]string, bool) {
	out := r.must(http.StatusOK, "GET", "/v1/feed?limit=100", u.Token, nil)
	items, _ := out["items"].([]any)
	for _, it := range items {
		if m := it.(map[string]any); m["id"] == postID {
			return mediaOf(m), true
		}
	}
	return nil, false
}

func TestMediaEndToEnd(t *testing.T) {
	r := startWithMedia(t)
	alice, bob := r.register("alice"), r.register("bob")
	r.follow(bob, alice)
	img := photo(t, 640, 480)

	// 1. Upload for an existing post: media-attach attaches it and the
	// post, and bob's feed, gain it.
	postID := r.post(alice, "look at this", "PUBLIC")
	code, m := r.upload(alice, img, postID)
	if code != http.StatusCreated || m["post_id"] != postID || m["thumbnail_url"] == nil {
		t.Fatalf("upload = %d %v", code, m)
	}
	mid := m["id"].(string)
	r.eventually("the post carries the media", func() (bool, string) {
		p := r.must(http.StatusOK, "GET", "/v1/posts/"+postID, alice.Token, nil)
		return fmt.Sprint(mediaOf(p)) == fmt.Sprint([]string{mid}) && p["type"] == "IMAGE", fmt.Sprint(p)
	})
	r.eventually("bob's feed shows the media", func() (bool, string) {
		got, ok := r.feedMedia(bob, postID)
		return ok && fmt.Sprint(got) == fmt.Sprint([]string{mid}), fmt.Sprint(got, ok)
	})
	// The URLs serve the file (encoded again, without metadata) and its
	// thumbnail: the upload's signed ones, and, now that the post is
	// public, the plain ones, cacheable by anyone.
	for _, u := range []string{m["url"].(string), m["thumbnail_url"].(string)} {
		plain, _, _ := strings.Cut(u, "?")
		for _, u := range []string{u, plain} {
			res, err := http.Get(r.api + u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
			if res.StatusCode != http.StatusOK || err != nil || (u == plain && !strings.HasPrefix(res.Header.Get("Cache-Control"), "public")) ||
				(plain == strings.Split(m["url"].(string), "?")[0] && (cfg.Width != 640 || cfg.Height != 480)) {
				t.Fatalf("GET %s = %d (%d bytes, %+v %v, %s)", u, res.StatusCode, len(b), cfg, err, res.Header.Get("Cache-Control"))
			}
		}
	}

	// 2. Upload before posting: pending until alice's next post takes it.
	code, m = r.upload(alice, img, "")
	if code != http.StatusCreated {
		t.Fatalf("upload = %d %v", code, m)
	}
	pendingID := m["id"].(string)
	opt, _ := redis.ParseURL(testrig.RedisAdminURL(t))
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	key := pendingmedia.Key(alice.ID)
	isPending := func(id string) {
		r.eventually("media-attach keeps "+id+" pending", func() (bool, string) {
			err := rdb.ZScore(context.Background(), key, id).Err()
			return err == nil, fmt.Sprint(err)
		})
	}
	isPending(pendingID)
	p := r.must(http.StatusCreated, "POST", "/v1/posts", alice.Token, map[string]any{"content": "posted after"})
	if got := mediaOf(p); fmt.Sprint(got) != fmt.Sprint([]string{pendingID}) {
		t.Fatalf("new post media %v, want the pending upload %s", got, pendingID)
	}
	r.eventually("bob's feed shows the pending media", func() (bool, string) {
		got, ok := r.feedMedia(bob, p["id"].(string))
		return ok && fmt.Sprint(got) == fmt.Sprint([]string{pendingID}), fmt.Sprint(got, ok)
	})

	// 3. A pending upload older than an hour is not attached. The entry is
	// written as an hour and a minute old rather than waited for.
	code, m = r.upload(alice, img, "")
	if code != http.StatusCreated {
		t.Fatalf("upload = %d %v", code, m)
	}
	isPending(m["id"].(string))
	if n := rdb.ZAddXX(context.Background(), key, redis.Z{Score: float64(time.Now().Add(-61 * time.Minute).UnixMilli()),
		Member: m["id"]}).Err(); n != nil {
		t.Fatal(n)
	}
	if s, err := rdb.ZScore(context.Background(), key, m["id"].(string)).Result(); err != nil || time.Since(time.UnixMilli(int64(s))) < time.Hour {
		t.Fatalf("expired entry not in place: %v %v", s, err)
	}
	p = r.must(http.StatusCreated, "POST", "/v1/posts", alice.Token, map[string]any{"content": "too late"})
	if got := mediaOf(p); len(got) != 0 {
		t.Fatalf("expired pending media attached: %v", got)
	}

	// 4. Bob cannot use alice's media, nor upload for her post.
	code, out := r.call("POST", "/v1/posts", bob.Token, map[string]any{"content": "mine", "media_ids": []string{mid}})
	if code != http.StatusBadRequest {
		t.Fatalf("someone else's media = %d %v", code, out)
	}
	if code, out := r.upload(bob, img, postID); code != http.StatusForbidden {
		t.Fatalf("upload for someone else's post = %d %v", code, out)
	}
	if code, out := r.upload(user{}, img, ""); code != http.StatusUnauthorized {
		t.Fatalf("no token = %d %v", code, out)
	}
}
