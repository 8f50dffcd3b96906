package attach_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/functions/media-attach/attach"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/pendingmedia"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

type rig struct {
	t       *testing.T
	ctx     context.Context
	codec   *envelope.Codec
	reactor *attach.Reactor
	pending *pendingmedia.Store
	exec    func(sql string, args ...any) int
}

func newRig(t *testing.T) *rig {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	for _, m := range []func(context.Context, *pgxpool.Pool) error{outbox.Migrate, content.Migrate} {
		if err := m(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	codec := envelope.NewCodec(catalog.Default())
	a, err := content.NewAttacher(pool, outbox.New(codec), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pendingmedia.New(testrig.Redis(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	re, err := attach.NewReactor(a, p, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, ctx: ctx, codec: codec, reactor: re, pending: p, exec: func(sql string, args ...any) int {
		var n int
		if err := pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}}
}

// postBy writes a post row as the content domain does.
func (r *rig) postBy(author id.UserID) id.PostID {
	p := id.NewPostID()
	r.exec(`WITH i AS (INSERT INTO posts (id, author_id, content, type, visibility, created_at, updated_at)
		VALUES ($1, $2, 'hi', 'TEXT', 'PUBLIC', now(), now()) RETURNING 1) SELECT count(*) FROM i`, p.String(), author.String())
	return p
}

func (r *rig) react(m *eventsv1.MediaUploaded) (attach.Outcome, error) {
	r.t.Helper()
	e, err := r.codec.New(m)
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.codec.Decode(e)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.reactor.React(r.ctx, d)
}

// reactBroken hands the reactor m, an event breaking the event contract:
// its decoder refuses it before any reactor sees it (checked first), but
// the reactor must refuse it on its own too.
func (r *rig) reactBroken(m *eventsv1.MediaUploaded) (attach.Outcome, error) {
	r.t.Helper()
	if _, err := r.codec.New(m); !errors.Is(err, envelope.ErrContract) {
		r.t.Fatalf("codec built %v: %v, want ErrContract", m, err)
	}
	e, err := r.codec.New(uploaded(id.NewUserID(), "", time.Now()))
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.codec.Decode(e)
	if err != nil {
		r.t.Fatal(err)
	}
	d.Message = m
	return r.reactor.React(r.ctx, d)
}

func uploaded(user id.UserID, post id.PostID, at time.Time) *eventsv1.MediaUploaded {
	return &eventsv1.MediaUploaded{MediaId: id.NewMediaID().String(), PostId: post.String(), UserId: user.String(),
		Type: eventsv1.MediaType_MEDIA_TYPE_IMAGE, Url: "/v1/media/files/x", ThumbnailUrl: "/v1/media/files/t",
		Metadata: &eventsv1.MediaMetadata{Width: 10, Height: 5, SizeBytes: 99, MimeType: "image/png"}, UploadedAt: timestamppb.New(at)}
}

func TestWithPostAttachesOnceAndAnnounces(t *testing.T) {
	r := newRig(t)
	me := id.NewUserID()
	p := r.postBy(me)
	ev := uploaded(me, p, time.Now())
	for i, want := range []attach.Outcome{attach.Attached, attach.AlreadyAttached, attach.AlreadyAttached} {
		got, err := r.react(ev) // the second and third are redeliveries
		if err != nil || got != want {
			t.Fatalf("delivery %d: %s %v, want %s", i, got, err, want)
		}
	}
	if n := r.exec(`SELECT count(*) FROM nova_outbox WHERE type = 'com.nova.content.post.updated' AND key = $1`, me.String()); n != 1 {
		t.Fatalf("%d PostUpdated events, want 1", n)
	}
	if n := r.exec(`SELECT jsonb_array_length(media) FROM posts WHERE id = $1`, p.String()); n != 1 {
		t.Fatalf("post has %d media", n)
	}
}

func TestOnlyTheOwnersMediaOnTheOwnersPost(t *testing.T) {
	r := newRig(t)
	me, other := id.NewUserID(), id.NewUserID()
	theirs := r.postBy(other)
	_, err := r.react(uploaded(me, theirs, time.Now()))
	if !delivery.IsPermanent(err) {
		t.Fatalf("someone else's post: %v, want a permanent error (dead-letter)", err)
	}
	if n := r.exec(`SELECT count(*) FROM nova_outbox`); n != 0 {
		t.Fatalf("%d events", n)
	}
	if got, err := r.react(uploaded(me, id.NewPostID(), time.Now())); err != nil || got != attach.PostGone {
		t.Fatalf("deleted post: %s %v", got, err)
	}
	bad := uploaded(me, "", time.Now())
	bad.UserId = "nobody"
	if _, err := r.reactBroken(bad); !delivery.IsPermanent(err) {
		t.Fatalf("bad user id: %v", err)
	}
}

func TestWithoutPostPendsForAnHour(t *testing.T) {
	r := newRig(t)
	me := id.NewUserID()
	now := time.Now()
	fresh, stale := uploaded(me, "", now.Add(-time.Minute)), uploaded(me, "", now.Add(-2*time.Hour))
	for _, ev := range []*eventsv1.MediaUploaded{fresh, fresh, stale} {
		if got, err := r.react(ev); err != nil || got != attach.Pending {
			t.Fatalf("%s %v", got, err)
		}
	}
	got, err := r.pending.Pending(r.ctx, me.String(), now)
	if err != nil || len(got) != 1 || got[0] != fresh.GetMediaId() {
		t.Fatalf("pending %v %v, want only the fresh upload", got, err)
	}
	// Redelivered after a post took it: not pending again.
	p := r.postBy(me)
	attached := uploaded(me, p, now)
	if _, err := r.react(attached); err != nil {
		t.Fatal(err)
	}
	attached.PostId = ""
	if got, err := r.react(attached); err != nil || got != attach.AlreadyAttached {
		t.Fatalf("%s %v", got, err)
	}
}
