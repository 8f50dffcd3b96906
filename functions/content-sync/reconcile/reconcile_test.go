package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/functions/content-sync/reconcile"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/identity/identitytest"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

type everyoneFollows struct{}

func (everyoneFollows) Follows(context.Context, id.UserID, id.UserID) (bool, error) { return true, nil }

type rig struct {
	t       *testing.T
	ctx     context.Context
	pool    *pgxpool.Pool
	codec   *envelope.Codec
	content *content.Service
	rec     *reconcile.Reconciler
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	for _, m := range []func(context.Context, *pgxpool.Pool) error{outbox.Migrate, content.Migrate, identity.Migrate} {
		if err := m(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	codec := envelope.NewCodec(catalog.Default()).ForConsumer(catalog.ContentSync)
	svc, err := content.New(content.Config{Pool: pool, Outbox: outbox.New(codec, catalog.ContentEvents), Follows: everyoneFollows{}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := reconcile.New(pool, svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, ctx: ctx, pool: pool, codec: codec, content: svc, rec: rec}
}

// react decodes e as the function does and reconciles it.
func (r *rig) react(e cloudevents.Event) reconcile.Outcome {
	r.t.Helper()
	d, err := r.codec.Decode(e)
	if err != nil {
		r.t.Fatalf("decode %s: %v", e.Type(), err)
	}
	out, err := r.rec.React(r.ctx, d)
	if err != nil {
		r.t.Fatalf("react to %s: %v", e.Type(), err)
	}
	return out
}

// event is msg as a producer other than content would write it: a new
// CloudEvent, content-service's source and type.
func (r *rig) event(msg proto.Message) cloudevents.Event {
	r.t.Helper()
	e, err := r.codec.New(msg)
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

// outboxRow is an event content enqueued.
type outboxRow struct {
	Topic, Key, Type, Source, Subject string
	Data                              []byte
}

// enqueued returns the outbox rows of the post, oldest first.
func (r *rig) enqueued(post string) []outboxRow {
	r.t.Helper()
	rows, err := r.pool.Query(r.ctx, `SELECT topic, key, type, source, coalesce(subject, ''), data FROM nova_outbox
		WHERE subject = $1 ORDER BY id`, post)
	if err != nil {
		r.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[outboxRow])
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// withdrawn requires the post's outbox rows to be exactly one PostDeleted
// by content-service, keyed by author, and the post to be unreadable.
func (r *rig) withdrawn(post string, author id.UserID) {
	r.t.Helper()
	rows := r.enqueued(post)
	if len(rows) != 1 {
		r.t.Fatalf("post %s: %d events enqueued, want one PostDeleted: %+v", post, len(rows), rows)
	}
	row := rows[0]
	if row.Topic != catalog.ContentEvents || row.Key != author.String() || row.Type != "com.nova.content.post.deleted" ||
		row.Source != "/nova/content-service" {
		r.t.Fatalf("withdrawal of %s: %+v, want a PostDeleted of content-service on content-events keyed %s", post, row, author)
	}
	var m eventsv1.PostDeleted
	if err := proto.Unmarshal(row.Data, &m); err != nil || m.GetPostId() != post || m.GetUserId() != author.String() || m.DeletedAt == nil {
		r.t.Fatalf("withdrawal of %s carries %v (%v)", post, &m, err)
	}
	if _, err := r.content.Get(r.ctx, author, id.PostID(post)); !errors.Is(err, content.ErrNotFound) {
		r.t.Fatalf("the withdrawn post %s reads %v, want not found", post, err)
	}
	var live bool
	if err := r.pool.QueryRow(r.ctx, `SELECT deleted_at IS NULL FROM posts WHERE id = $1`, post).Scan(&live); err != nil || live {
		r.t.Fatalf("post %s: tombstone live=%v (%v), want a deleted row", post, live, err)
	}
}

func (r *rig) outboxCount() int {
	r.t.Helper()
	var n int
	if err := r.pool.QueryRow(r.ctx, `SELECT count(*) FROM nova_outbox`).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// Content's own PostCreated coming back changes nothing, also for a post
// content deleted since: it is neither adopted again nor withdrawn, and
// nothing is enqueued.
func TestOwnEventsChangeNothing(t *testing.T) {
	r := newRig(t)
	author := identitytest.User(t, r.pool, "owner")
	p, err := r.content.Create(r.ctx, author, content.NewPost{Content: "mine", Tags: []string{"go"}})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := r.content.Create(r.ctx, author, content.NewPost{Content: "soon deleted"})
	if err != nil {
		t.Fatal(err)
	}
	created := func(p content.Post) cloudevents.Event {
		return r.event(&eventsv1.PostCreated{PostId: p.ID, UserId: p.AuthorID, Content: p.Content, Tags: p.Tags,
			Type: p.Type.Proto(), Visibility: p.Visibility.Proto(), CreatedAt: timestamppb.New(p.CreatedAt)})
	}
	if err := r.content.Delete(r.ctx, author, id.PostID(gone.ID)); err != nil {
		t.Fatal(err)
	}
	before := r.outboxCount()
	for _, e := range []cloudevents.Event{created(p), created(p), created(gone),
		r.event(&eventsv1.PostUpdated{PostId: p.ID, UserId: author.String(), Tags: []string{"go"}, UpdatedAt: timestamppb.Now()}),
		r.event(&eventsv1.PostUpdated{PostId: gone.ID, UserId: author.String(), UpdatedAt: timestamppb.Now()}),
		r.event(&eventsv1.PostDeleted{PostId: gone.ID, UserId: author.String(), DeletedAt: timestamppb.Now()}),
	} {
		if out := r.react(e); out != reconcile.Held && out != reconcile.Ignored {
			t.Fatalf("%s of content's own post: %s", e.Type(), out)
		}
	}
	if n := r.outboxCount(); n != before {
		t.Fatalf("content's own events enqueued %d events", n-before)
	}
	if _, err := r.content.Get(r.ctx, author, id.PostID(gone.ID)); !errors.Is(err, content.ErrNotFound) {
		t.Fatalf("a late copy of a deleted post's creation brought it back: %v", err)
	}
}

// A PostCreated by an account, written without content, becomes the post
// content would have stored had its author created it: tags normalised,
// type and visibility defaulted, the event's time, no media, no event of
// its own. Redelivered, it is found.
func TestOutsidePostOfAnAccountIsAdopted(t *testing.T) {
	r := newRig(t)
	author := identitytest.User(t, r.pool, "outsider")
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	pid := id.NewPostID().String()
	e := r.event(&eventsv1.PostCreated{PostId: pid, UserId: author.String(), Content: "typed into kcat",
		Tags: []string{" #Kafka", "test", "Kafka"}, CreatedAt: timestamppb.New(at)})
	if out := r.react(e); out != reconcile.Adopted {
		t.Fatalf("outcome %s, want adopted", out)
	}
	got, err := r.content.Get(r.ctx, author, id.PostID(pid))
	if err != nil {
		t.Fatal(err)
	}
	want := at.Truncate(time.Microsecond)
	if got.ID != pid || got.AuthorID != author.String() || got.Content != "typed into kcat" || got.Type != "TEXT" ||
		got.Visibility != "PUBLIC" || strings.Join(got.Tags, ",") != "Kafka,test" || len(got.Media) != 0 ||
		!got.CreatedAt.Equal(want) || !got.UpdatedAt.Equal(want) || got.Hidden {
		b, _ := json.Marshal(got)
		t.Fatalf("adopted post %s", b)
	}
	// What Create stores for the same input has the same shape.
	made, err := r.content.Create(r.ctx, author, content.NewPost{Content: "typed into kcat", Tags: []string{" #Kafka", "test", "Kafka"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(made.Tags, ",") != strings.Join(got.Tags, ",") || made.Type != got.Type || made.Visibility != got.Visibility {
		t.Fatalf("Create stores %+v, the adoption %+v", made.Summary, got.Summary)
	}
	if rows := r.enqueued(pid); len(rows) != 0 {
		t.Fatalf("the adoption enqueued %+v; the creation is on the topic already", rows)
	}
	for range 2 {
		if out := r.react(e); out != reconcile.Held {
			t.Fatalf("redelivered: %s, want held", out)
		}
	}
	if rows := r.enqueued(pid); len(rows) != 0 {
		t.Fatalf("redelivery enqueued %+v", rows)
	}
}

// A post naming no account, or one content's rules refuse, is withdrawn
// with one PostDeleted keyed by its author, and never adopted later.
func TestOutsidePostContentWouldRefuseIsWithdrawn(t *testing.T) {
	r := newRig(t)
	author := identitytest.User(t, r.pool, "author")
	gone := identitytest.User(t, r.pool, "gone")
	if _, err := r.pool.Exec(r.ctx, `DELETE FROM users WHERE id = $1`, gone.String()); err != nil {
		t.Fatal(err)
	}
	now := timestamppb.Now()
	many := make([]string, 11)
	for i := range many {
		many[i] = "t" + string(rune('a'+i))
	}
	cases := map[string]*eventsv1.PostCreated{
		"no such account":          {UserId: id.NewUserID().String(), Content: "ghost", CreatedAt: now},
		"a deleted account":        {UserId: gone.String(), Content: "from beyond", CreatedAt: now},
		"a text post without text": {UserId: author.String(), Content: "  ", CreatedAt: now},
		"text too long":            {UserId: author.String(), Content: strings.Repeat("x", 5001), CreatedAt: now},
		"control characters":       {UserId: author.String(), Content: "bell\a", CreatedAt: now},
		"too many tags":            {UserId: author.String(), Content: "tags", Tags: many, CreatedAt: now},
		"a tag with a space":       {UserId: author.String(), Content: "tags", Tags: []string{"two words"}, CreatedAt: now},
		"an empty tag":             {UserId: author.String(), Content: "tags", Tags: []string{"#"}, CreatedAt: now},
		"media content never saw": {UserId: author.String(), Content: "look", CreatedAt: now,
			Media: []*eventsv1.MediaRef{{MediaId: id.NewMediaID().String(), Type: eventsv1.MediaType_MEDIA_TYPE_IMAGE, Url: "https://evil.example/x.png"}}},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			m.PostId = id.NewPostID().String()
			e := r.event(m)
			if out := r.react(e); out != reconcile.Withdrawn {
				t.Fatalf("outcome %s, want withdrawn", out)
			}
			uid, _ := id.ParseUserID(m.GetUserId())
			r.withdrawn(m.GetPostId(), uid)
			// Redelivered, and sent again under a new id: withdrawn once.
			if out := r.react(e); out != reconcile.Held {
				t.Fatalf("redelivered: %s, want held", out)
			}
			if out := r.react(r.event(m)); out != reconcile.Held {
				t.Fatalf("sent again: %s, want held", out)
			}
			r.withdrawn(m.GetPostId(), uid)
		})
	}
	// A text-less IMAGE post is one content takes.
	pid := id.NewPostID().String()
	if out := r.react(r.event(&eventsv1.PostCreated{PostId: pid, UserId: author.String(), Type: eventsv1.PostType_POST_TYPE_IMAGE,
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_FOLLOWERS_ONLY, CreatedAt: now})); out != reconcile.Adopted {
		t.Fatalf("a text-less IMAGE post: %s, want adopted", out)
	}
}

// An update of a post content never held is withdrawn; the creation
// arriving after it is not adopted. A deletion of such a post changes
// nothing.
func TestOutsideUpdateAndDelete(t *testing.T) {
	r := newRig(t)
	author := identitytest.User(t, r.pool, "author")
	pid := id.NewPostID().String()
	if out := r.react(r.event(&eventsv1.PostUpdated{PostId: pid, UserId: author.String(), Content: proto.String("edited"),
		UpdatedAt: timestamppb.Now()})); out != reconcile.Withdrawn {
		t.Fatalf("update: %s, want withdrawn", out)
	}
	r.withdrawn(pid, author)
	if out := r.react(r.event(&eventsv1.PostCreated{PostId: pid, UserId: author.String(), Content: "late",
		CreatedAt: timestamppb.Now()})); out != reconcile.Held {
		t.Fatalf("creation after the withdrawal: %s, want held", out)
	}
	r.withdrawn(pid, author)

	other := id.NewPostID().String()
	before := r.outboxCount()
	if out := r.react(r.event(&eventsv1.PostDeleted{PostId: other, UserId: author.String(), DeletedAt: timestamppb.Now()})); out != reconcile.Ignored {
		t.Fatalf("delete of an unknown post: %s, want ignored", out)
	}
	var n int
	if err := r.pool.QueryRow(r.ctx, `SELECT count(*) FROM posts WHERE id = $1`, other).Scan(&n); err != nil || n != 0 || r.outboxCount() != before {
		t.Fatalf("a delete of an unknown post wrote %d rows, %d events (%v)", n, r.outboxCount()-before, err)
	}
}

// A plain record as the design document's console-producer test writes it
// (no CloudEvent, no time: the record's timestamp stands in) is adopted
// like any other creation.
func TestConsoleProducerRecordIsAdopted(t *testing.T) {
	r := newRig(t)
	author := identitytest.User(t, r.pool, "console")
	pid := id.NewPostID().String()
	e := cloudevents.NewEvent()
	e.SetID("partition:3/offset:42")
	e.SetSource("/apis/v1/namespaces/nova/kafkasources/content-sync#content-events")
	e.SetType(envelope.KafkaEventType)
	at := time.Now().UTC().Truncate(time.Millisecond)
	e.SetTime(at)
	if err := e.SetData("application/json", []byte(`{"post_id":"`+pid+`","user_id":"`+author.String()+
		`","content":"hello","type":"TEXT","visibility":"PUBLIC","tags":["kafka","test"]}`)); err != nil {
		t.Fatal(err)
	}
	if out := r.react(e); out != reconcile.Adopted {
		t.Fatalf("outcome %s, want adopted", out)
	}
	got, err := r.content.Get(r.ctx, author, id.PostID(pid))
	if err != nil || got.Content != "hello" || strings.Join(got.Tags, ",") != "kafka,test" || !got.CreatedAt.Equal(at) {
		t.Fatalf("adopted %+v (%v), created at %s", got, err, at)
	}
}

// Adopting holds the author's account until the post is in: a deletion of
// the account waits, so its erasure finds the post.
func TestAdoptionHoldsTheAccount(t *testing.T) {
	r := newRig(t)
	author := identitytest.User(t, r.pool, "held")
	tx, err := r.pool.Begin(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(r.ctx)
	if ok, err := identity.HoldAccount(r.ctx, tx, author); err != nil || !ok {
		t.Fatalf("hold %s: %v %v", author, ok, err)
	}
	if ok, err := identity.HoldAccount(r.ctx, tx, id.NewUserID()); err != nil || ok {
		t.Fatalf("hold of no account: %v %v", ok, err)
	}
	err = pgx.BeginFunc(r.ctx, r.pool, func(del pgx.Tx) error {
		if _, err := del.Exec(r.ctx, `SET LOCAL lock_timeout = '200ms'`); err != nil {
			return err
		}
		_, err := del.Exec(r.ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, author.String())
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("locking the held account for its deletion: %v, want a lock timeout", err)
	}
}
