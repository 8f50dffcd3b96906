package api_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/nova-social/nova/shared/testrig"
)

func (r *rig) user(name string) (id, token string) {
	r.t.Helper()
	name = name + "_" + testrig.ID()[:6]
	if code, body := r.do("POST", "/v1/users", "", map[string]any{"username": name, "email": name + "@example.com", "password": "correct horse battery"}); code != http.StatusAccepted {
		r.t.Fatalf("sign up: %d %v", code, body)
	}
	code, u := r.do("POST", "/v1/users/verification", "", verification(r.t, name+"@example.com"))
	if code != http.StatusCreated {
		r.t.Fatalf("register: %d %v", code, u)
	}
	code, s := r.do("POST", "/v1/sessions", "", map[string]any{"username": name, "password": "correct horse battery"})
	if code != http.StatusOK {
		r.t.Fatalf("login: %d %v", code, s)
	}
	return u["id"].(string), s["token"].(string)
}

func (r *rig) upload(token string) string {
	r.t.Helper()
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		r.t.Fatal(err)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "dot.png")
	part.Write(img.Bytes())
	w.Close()
	req, _ := http.NewRequest("POST", r.srv.URL+"/v1/media", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != http.StatusCreated {
		r.t.Fatalf("upload: %d %v", resp.StatusCode, m)
	}
	return m["id"].(string)
}

// A message may carry the sender's own uploads, checked against the media
// domain, and never someone else's.
func TestMessagesCarryTheSendersMediaOnly(t *testing.T) {
	r := newRig(t)
	_, a := r.user("ann")
	bID, b := r.user("bob")
	code, conv := r.do("POST", "/v1/conversations", a, map[string]any{"participant_ids": []string{bID}})
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("conversation: %d %v", code, conv)
	}
	path := "/v1/conversations/" + conv["id"].(string) + "/messages"
	mine, theirs := r.upload(a), r.upload(b)

	code, out := r.do("POST", path, a, map[string]any{"client_message_id": "m1", "type": "IMAGE", "content": "look", "media_ids": []string{theirs}})
	if code != http.StatusBadRequest {
		t.Fatalf("someone else's media: %d %v", code, out)
	}
	code, out = r.do("POST", path, a, map[string]any{"client_message_id": "m2", "type": "IMAGE", "content": "look", "media_ids": []string{mine}})
	if code != http.StatusCreated {
		t.Fatalf("own media: %d %v", code, out)
	}
	media, _ := out["media"].([]any)
	if len(media) != 1 || media[0].(map[string]any)["id"] != mine {
		t.Fatalf("message media %v, want [%s]", out["media"], mine)
	}
}
