package screen_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/functions/trust-safety/screen"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/moderation"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/testrig"
)

func codes(rs []moderation.Reason) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code+"="+r.Detail)
	}
	return strings.Join(out, ",")
}

func TestPolicyRules(t *testing.T) {
	cfg := screen.DefaultConfig()
	cfg.Patterns = []string{`(?i)wire\s+me\s+\$\d+`}
	cfg.BlockedDomains = []string{"spam.example"}
	p, err := screen.NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		text   string
		tags   []string
		want   string
		action eventsv1.ModerationAction
	}{
		{"a lovely day", nil, "", eventsv1.ModerationAction_MODERATION_ACTION_ALLOW},
		{"Want to BUY   followers? dm me", nil, "blocked_term=buy followers", eventsv1.ModerationAction_MODERATION_ACTION_HIDE},
		{"rebuy followersip is not a word", nil, "", eventsv1.ModerationAction_MODERATION_ACTION_ALLOW},
		{"nice", []string{"crypto", "giveaway"}, "blocked_term=crypto giveaway", eventsv1.ModerationAction_MODERATION_ACTION_HIDE},
		{"please wire me $500", nil, `blocked_pattern=(?i)wire\s+me\s+\$\d+`, eventsv1.ModerationAction_MODERATION_ACTION_HIDE},
		{"see https://a.spam.example/x", nil, "blocked_domain=spam.example", eventsv1.ModerationAction_MODERATION_ACTION_HIDE},
		{"see https://notspam.example/x", nil, "", eventsv1.ModerationAction_MODERATION_ACTION_ALLOW},
		{"http://a.io http://b.io www.c.io https://d.io", nil, "link_spam=4 links (at most 3)", eventsv1.ModerationAction_MODERATION_ACTION_FLAG},
	}
	for _, c := range cases {
		got := p.Check(c.text, c.tags)
		if codes(got) != c.want || screen.Action(got) != c.action {
			t.Errorf("%q %v: %q %s, want %q %s", c.text, c.tags, codes(got), screen.Action(got), c.want, c.action)
		}
	}
	if screen.Normalise("  Hello,   WORLD!! ") != "hello world" {
		t.Fatalf("Normalise = %q", screen.Normalise("  Hello,   WORLD!! "))
	}
	bad := screen.DefaultConfig()
	bad.Patterns, bad.RepeatThreshold = []string{"("}, 1
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "pattern") || !strings.Contains(err.Error(), "repeat") {
		t.Fatalf("Validate = %v", err)
	}
}

type rig struct {
	t       *testing.T
	ctx     context.Context
	pool    *pgxpool.Pool
	codec   *envelope.Codec
	reactor *screen.Reactor
	store   *moderation.Store
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	for _, m := range []func(context.Context, *pgxpool.Pool) error{outbox.Migrate, moderation.Migrate} {
		if err := m(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	codec := envelope.NewCodec(catalog.Default())
	store, err := moderation.NewStore(pool, outbox.New(codec))
	if err != nil {
		t.Fatal(err)
	}
	p, err := screen.NewPolicy(screen.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	rep := screen.NewRepeats(testrig.Redis(t), "trust-safety:test-"+testrig.ID()+":", time.Hour)
	return &rig{t: t, ctx: ctx, pool: pool, codec: codec, store: store,
		reactor: screen.NewReactor(p, rep, store, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

func (r *rig) send(msg proto.Message, evID string) {
	r.t.Helper()
	var opts []envelope.Option
	if evID != "" {
		opts = append(opts, envelope.WithID(evID))
	}
	e, err := r.codec.New(msg, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.codec.Decode(e)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.reactor.React(r.ctx, d); err != nil {
		r.t.Fatal(err)
	}
}

// decisions returns the decisions written to the outbox, oldest first.
func (r *rig) decisions() []*eventsv1.ModerationDecision {
	r.t.Helper()
	rows, err := r.pool.Query(r.ctx, `SELECT data FROM `+outbox.Table+` ORDER BY id`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	var out []*eventsv1.ModerationDecision
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			r.t.Fatal(err)
		}
		d := &eventsv1.ModerationDecision{}
		if err := proto.Unmarshal(data, d); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func created(post, author, text string, at time.Time) *eventsv1.PostCreated {
	return &eventsv1.PostCreated{PostId: post, UserId: author, Content: text, CreatedAt: timestamppb.New(at)}
}

func TestBlockedTermHidesAndQueuesOnceUnderRedelivery(t *testing.T) {
	r := newRig(t)
	post, author := uuid.NewString(), uuid.NewString()
	at := time.Now().UTC().Truncate(time.Microsecond)
	ev := created(post, author, "cheap! buy followers now", at)
	id := uuid.NewString()
	r.send(ev, id)
	r.send(ev, id) // redelivered
	r.send(ev, "") // the same post version, duplicated with another id
	ds := r.decisions()
	if len(ds) != 1 {
		t.Fatalf("%d decisions, want 1", len(ds))
	}
	d := ds[0]
	if d.GetAction() != eventsv1.ModerationAction_MODERATION_ACTION_HIDE || d.GetPostId() != post || d.GetAuthorId() != author ||
		d.GetDecidedBy() != "auto" || !d.GetContentAt().AsTime().Equal(at) || moderation.ReasonText(d.GetReasons()) != "blocked_term: buy followers" {
		t.Fatalf("decision %v", d)
	}
	items, err := r.store.Queue(r.ctx, nil, 10)
	if err != nil || len(items) != 1 || items[0].Action != "hide" {
		t.Fatalf("queue %+v %v", items, err)
	}
}

func TestEditsAreJudgedWithTheWholePost(t *testing.T) {
	r := newRig(t)
	post, author := uuid.NewString(), uuid.NewString()
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	r.send(created(post, author, "hello there", t0), "")
	// A tags-only edit is judged with the text seen before.
	r.send(&eventsv1.PostUpdated{PostId: post, UserId: author, Tags: []string{"crypto", "giveaway"}, UpdatedAt: timestamppb.New(t0.Add(time.Second))}, "")
	// Moderation's own update is not judged.
	r.send(&eventsv1.PostUpdated{PostId: post, UserId: author, Hidden: proto.Bool(true), UpdatedAt: timestamppb.New(t0.Add(2 * time.Second))}, "")
	// An edit that fixes the post is allowed, and leaves the queue.
	r.send(&eventsv1.PostUpdated{PostId: post, UserId: author, Content: proto.String("hello again"), UpdatedAt: timestamppb.New(t0.Add(3 * time.Second))}, "")
	ds := r.decisions()
	var acts []string
	for _, d := range ds {
		acts = append(acts, d.GetAction().String())
	}
	want := "MODERATION_ACTION_ALLOW MODERATION_ACTION_HIDE MODERATION_ACTION_ALLOW"
	if strings.Join(acts, " ") != want {
		t.Fatalf("actions %v, want %s", acts, want)
	}
	if items, _ := r.store.Queue(r.ctx, nil, 10); len(items) != 0 {
		t.Fatalf("queue %+v", items)
	}
	r.send(&eventsv1.PostDeleted{PostId: post, UserId: author, DeletedAt: timestamppb.Now()}, "")
	if _, ok, _ := r.store.Subject(r.ctx, post); ok {
		t.Fatal("a deleted post is still a subject")
	}
}

func TestRepeatedContentFromOneAuthorIsHidden(t *testing.T) {
	r := newRig(t)
	author, other := uuid.NewString(), uuid.NewString()
	now := time.Now().UTC().Truncate(time.Microsecond)
	text := "Check out my profile for great deals"
	for i := range 3 {
		// Punctuation and case do not make a text new.
		r.send(created(uuid.NewString(), author, strings.ToUpper(text)+strings.Repeat("!", i), now.Add(time.Duration(i)*time.Second)), "")
	}
	r.send(created(uuid.NewString(), other, text, now), "")
	ds := r.decisions()
	if len(ds) != 4 {
		t.Fatalf("%d decisions", len(ds))
	}
	for i, want := range []eventsv1.ModerationAction{1, 1, 4, 1} {
		if ds[i].GetAction() != want {
			t.Errorf("post %d: %s, want %s (%s)", i, ds[i].GetAction(), want, moderation.ReasonText(ds[i].GetReasons()))
		}
	}
	if !strings.HasPrefix(moderation.ReasonText(ds[2].GetReasons()), "repeated_content: the same text in 3 posts") {
		t.Fatalf("reason %q", moderation.ReasonText(ds[2].GetReasons()))
	}
}
