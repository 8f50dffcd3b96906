package content_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"net/http"
	"sync"
	"testing"
	"time"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/media"
	"github.com/nova-social/nova/shared/domain/pendingmedia"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// mediaRig is the content rig with media: the real media service (files in
// a temporary directory) as the library, the pending set in the test Redis,
// and a clock the test moves.
type mediaRig struct {
	*rig
	media   *media.Service
	pending *pendingmedia.Store
	mu      sync.Mutex
	clock   time.Time
}

func newMediaRig(t *testing.T) *mediaRig {
	t.Helper()
	r := &mediaRig{rig: newRig(t), clock: time.Now().UTC()}
	if err := media.Migrate(r.ctx, r.pool); err != nil {
		t.Fatal(err)
	}
	store, err := media.NewFSStore(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if r.media, err = media.New(media.Config{Pool: r.pool, Outbox: outbox.New(r.codec), Store: store, Logger: quiet(),
		TempDir: t.TempDir(), Posts: media.PostOwnerFunc(func(ctx context.Context, u id.UserID, p id.PostID) error {
			return r.svc.MustOwn(ctx, u, p)
		})}); err != nil {
		t.Fatal(err)
	}
	if r.pending, err = pendingmedia.New(testrig.Redis(t), 0); err != nil {
		t.Fatal(err)
	}
	if r.svc, err = content.New(content.Config{Pool: r.pool, Outbox: outbox.New(r.codec), Follows: r.people, Logger: quiet(),
		Media: r.media, Pending: r.pending, Now: r.now}); err != nil {
		t.Fatal(err)
	}
	r.mux = http.NewServeMux()
	verifier, err := auth.NewVerifier(r.keys, auth.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r.svc.Mount(r.mux, httpapi.Authenticate(verifier, quiet()))
	return r
}

func (r *mediaRig) now() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clock
}

func (r *mediaRig) advance(d time.Duration) {
	r.mu.Lock()
	r.clock = r.clock.Add(d)
	r.mu.Unlock()
}

// upload stores a small PNG for owner through the media service.
func (r *mediaRig) upload(owner id.UserID) post.Media {
	r.t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 3))); err != nil {
		r.t.Fatal(err)
	}
	st, err := r.media.Stage(r.ctx, &buf)
	if err != nil {
		r.t.Fatal(err)
	}
	defer st.Close()
	m, err := r.media.Commit(r.ctx, owner, "", st)
	if err != nil {
		r.t.Fatal(err)
	}
	return m.Media
}

// pend records m as pending since the rig's clock shifted by age.
func (r *mediaRig) pend(owner id.UserID, m post.Media, age time.Duration) {
	r.t.Helper()
	if err := r.pending.Add(r.ctx, owner.String(), m.ID, r.now().Add(-age), r.now()); err != nil {
		r.t.Fatal(err)
	}
}

func mediaIDs(ms []post.Media) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestCreateWithNamedMedia(t *testing.T) {
	r := newMediaRig(t)
	me := r.user()
	a, b := r.upload(me), r.upload(me)
	p, err := r.svc.Create(r.ctx, me, content.NewPost{MediaIDs: []id.MediaID{id.MediaID(b.ID), id.MediaID(a.ID)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := mediaIDs(p.Media); len(got) != 2 || got[0] != b.ID || got[1] != a.ID || p.Type != post.Image {
		t.Fatalf("post media %v type %s", got, p.Type)
	}
	read, err := r.svc.Get(r.ctx, me, id.PostID(p.ID))
	if err != nil || len(read.Media) != 2 || read.Media[0].URL != b.URL || read.Media[0].Width != 4 || read.Media[0].MimeType != "image/png" {
		t.Fatalf("read back %+v %v", read.Media, err)
	}
	evs := r.events()
	pc := evs[len(evs)-1].Message.(*eventsv1.PostCreated)
	if len(pc.GetMedia()) != 2 || pc.GetMedia()[0].GetUrl() != b.URL || pc.GetMedia()[0].GetMetadata().GetHeight() != 3 ||
		pc.GetType() != eventsv1.PostType_POST_TYPE_IMAGE {
		t.Fatalf("PostCreated %v", pc)
	}

	// Named again: already attached.
	before := r.counts()
	_, err = r.svc.Create(r.ctx, me, content.NewPost{Content: "again", MediaIDs: []id.MediaID{id.MediaID(a.ID)}})
	if !errors.Is(err, content.ErrInvalid) || r.counts() != before {
		t.Fatalf("attaching twice: %v, counts %+v → %+v", err, before, r.counts())
	}
}

func TestSomeoneElsesMediaIsRefused(t *testing.T) {
	r := newMediaRig(t)
	me, other := r.user(), r.user()
	theirs := r.upload(other)
	before := r.counts()
	res := r.doAs("POST", "/v1/posts", me, `{"content":"mine now","media_ids":["`+theirs.ID+`"]}`)
	if code := res.errorCode(t, http.StatusBadRequest); code != httpapi.CodeValidation {
		t.Fatalf("code %s", code)
	}
	res = r.doAs("POST", "/v1/posts", me, `{"content":"x","media_ids":["not-an-id"]}`)
	res.errorCode(t, http.StatusBadRequest)
	if after := r.counts(); after != before {
		t.Fatalf("counts %+v → %+v", before, after)
	}
	// Their pending media is not mine either.
	r.pend(me, theirs, 0)
	p := r.create(me, `{"content":"text only"}`)
	if len(p.Media) != 0 {
		t.Fatalf("someone else's pending media attached: %v", p.Media)
	}
}

func TestNextPostTakesPendingMedia(t *testing.T) {
	r := newMediaRig(t)
	me := r.user()
	fresh, old := r.upload(me), r.upload(me)
	r.pend(me, old, 61*time.Minute) // uploaded over an hour ago
	r.pend(me, fresh, 10*time.Minute)

	// No content, no type: the pending image makes it an image post.
	p := r.create(me, `{}`)
	if len(p.Media) != 1 || p.Media[0].(map[string]any)["id"] != fresh.ID || p.Type != "IMAGE" {
		t.Fatalf("post %+v", p)
	}
	if left, _ := r.pending.Pending(r.ctx, me.String(), r.now()); len(left) != 0 {
		t.Fatalf("pending after the post: %v", left)
	}
	// The next post has nothing left to take, and the expired one never
	// attaches.
	if p := r.create(me, `{"content":"words"}`); len(p.Media) != 0 || p.Type != "TEXT" {
		t.Fatalf("second post %+v", p)
	}
	// Named explicitly, an upload attaches whenever it was made.
	if p := r.create(me, `{"content":"old photo","media_ids":["`+old.ID+`"]}`); len(p.Media) != 1 {
		t.Fatalf("named old media: %+v", p)
	}
}

func TestPendingMediaExpiresAfterAnHour(t *testing.T) {
	r := newMediaRig(t)
	me := r.user()
	m := r.upload(me)
	r.pend(me, m, 0)
	r.advance(time.Hour + time.Second)
	if p := r.create(me, `{"content":"later"}`); len(p.Media) != 0 {
		t.Fatalf("expired pending media attached: %+v", p.Media)
	}
	// An explicit empty list takes nothing even when media is pending.
	n := r.upload(me)
	r.pend(me, n, 0)
	if p := r.create(me, `{"content":"none please","media_ids":[]}`); len(p.Media) != 0 {
		t.Fatalf("media_ids [] took %v", p.Media)
	}
}

func TestConcurrentPostsShareNoPendingMedia(t *testing.T) {
	r := newMediaRig(t)
	me := r.user()
	m := r.upload(me)
	r.pend(me, m, 0)
	var wg sync.WaitGroup
	got := make([]int, 4)
	for i := range got {
		wg.Go(func() {
			p, err := r.svc.Create(r.ctx, me, content.NewPost{Content: "race"})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = len(p.Media)
		})
	}
	wg.Wait()
	total := 0
	for _, n := range got {
		total += n
	}
	if total != 1 {
		t.Fatalf("media attached %d times across %v", total, got)
	}
}

func TestAttachMediaToExistingPost(t *testing.T) {
	r := newMediaRig(t)
	me, other := r.user(), r.user()
	a, err := content.NewAttacher(r.pool, outbox.New(r.codec), r.now)
	if err != nil {
		t.Fatal(err)
	}
	p := r.create(me, `{"content":"caption","tags":["t"]}`)
	first, second := r.upload(me), r.upload(me)
	for _, m := range []post.Media{first, second} {
		if ok, err := a.AttachMedia(r.ctx, me, id.PostID(p.ID), m); err != nil || !ok {
			t.Fatalf("attach: %v %v", ok, err)
		}
	}
	evs := r.events()
	pu := evs[len(evs)-1].Message.(*eventsv1.PostUpdated)
	if got := pu.GetMedia(); len(got) != 2 || got[0].GetMediaId() != first.ID || got[1].GetMediaId() != second.ID ||
		pu.GetType() != eventsv1.PostType_POST_TYPE_IMAGE || pu.Content != nil || len(pu.GetTags()) != 1 || evs[len(evs)-1].Key != me.String() {
		t.Fatalf("PostUpdated %v", pu)
	}
	read, _ := r.svc.Get(r.ctx, me, id.PostID(p.ID))
	if len(read.Media) != 2 || read.Type != post.Image || !read.UpdatedAt.Equal(pu.GetUpdatedAt().AsTime()) {
		t.Fatalf("post %+v", read)
	}

	// Redelivered: nothing written, nothing emitted.
	theirs := r.create(other, `{"content":"theirs"}`)
	spare, spare2 := r.upload(me), r.upload(me)
	before := r.counts()
	if ok, err := a.AttachMedia(r.ctx, me, id.PostID(p.ID), first); err != nil || ok {
		t.Fatalf("redelivery: %v %v", ok, err)
	}
	if attached, _ := a.Attached(r.ctx, id.MediaID(first.ID)); !attached {
		t.Fatal("Attached says no")
	}
	// Someone else's post, a post that is gone.
	if _, err := a.AttachMedia(r.ctx, me, id.PostID(theirs.ID), spare); !errors.Is(err, content.ErrForbidden) {
		t.Fatalf("other's post: %v", err)
	}
	if _, err := a.AttachMedia(r.ctx, me, id.NewPostID(), spare2); !errors.Is(err, content.ErrNotFound) {
		t.Fatalf("missing post: %v", err)
	}
	if after := r.counts(); after != before {
		t.Fatalf("counts %+v → %+v", before, after)
	}
}
