package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/functions/notifier/notify"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/identity/identitytest"
	"github.com/nova-social/nova/shared/domain/notification"
	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// rig is a Reactor over a fresh database and the test Redis, with the real
// presence store.
type rig struct {
	t        *testing.T
	ctx      context.Context
	codec    *envelope.Codec
	inbox    *notification.Service
	presence *presence.Store
	pool     *pgxpool.Pool
	graph    *identity.Graph
	reactor  *notify.Reactor
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := outbox.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := notification.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// The identity tables are in the notifier's database, as in production.
	if err := identity.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	graph := identity.NewGraph(pool)
	codec := envelope.NewCodec(catalog.Default())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	inbox, err := notification.New(notification.Config{Pool: pool, Outbox: outbox.New(codec), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := presence.New(testrig.Redis(t), presence.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	reactor, err := notify.NewReactor(inbox, ps, graph, log)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, ctx: ctx, codec: codec, inbox: inbox, presence: ps, pool: pool, graph: graph, reactor: reactor}
}

// event wraps msg as its producer would publish it.
func (r *rig) event(msg proto.Message) cloudevents.Event {
	r.t.Helper()
	e, err := r.codec.New(msg)
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

// deliver hands e to the reactor as the function's Handle does.
func (r *rig) deliver(e cloudevents.Event) error {
	r.t.Helper()
	d, err := r.codec.Decode(e)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.reactor.React(r.ctx, d)
}

// broken is a decoded event carrying msg, which breaks the event contract:
// its decoder refuses such an event before any reactor sees it (checked
// here first), but the reactor must refuse it on its own too.
func (r *rig) broken(msg proto.Message) envelope.Decoded {
	r.t.Helper()
	if _, err := r.codec.New(msg); !errors.Is(err, envelope.ErrContract) {
		r.t.Fatalf("codec built %v: %v, want ErrContract", msg, err)
	}
	et, ok := catalog.Default().ByMessage(msg)
	if !ok {
		r.t.Fatalf("%T is not in the catalogue", msg)
	}
	e := cloudevents.NewEvent()
	e.SetID(id.NewPostID().String())
	e.SetSource(et.Source())
	e.SetType(et.Type)
	e.SetTime(time.Now())
	return envelope.Decoded{Event: e, Type: et, Message: msg}
}

func (r *rig) mustDeliver(e cloudevents.Event) {
	r.t.Helper()
	if err := r.deliver(e); err != nil {
		r.t.Fatalf("%s: %v", e.Type(), err)
	}
}

func (r *rig) inboxOf(u id.UserID) []notification.Notification {
	r.t.Helper()
	ns, _, err := r.inbox.List(r.ctx, u, notification.Query{Limit: 100})
	if err != nil {
		r.t.Fatal(err)
	}
	return ns
}

func (r *rig) online(u id.UserID) {
	r.t.Helper()
	if err := r.presence.Connect(r.ctx, u, "conn-"+testrig.ID(), "gw-test"); err != nil {
		r.t.Fatal(err)
	}
}

// sequence numbers the test messages: increasing in every conversation.
var sequence atomic.Int64

func message(conv string, from id.UserID, text string, to ...id.UserID) *eventsv1.MessageSent {
	m := &eventsv1.MessageSent{MessageId: id.NewMessageID().String(), ConversationId: conv, SenderId: from.String(),
		Content: text, Type: eventsv1.MessageType_MESSAGE_TYPE_TEXT, SentAt: timestamppb.Now(), Sequence: sequence.Add(1)}
	for _, u := range to {
		m.RecipientIds = append(m.RecipientIds, u.String())
	}
	return m
}

func engagement(kind eventsv1.EngagementKind, post string, user, author id.UserID) *eventsv1.Engagement {
	return &eventsv1.Engagement{EngagementId: id.NewPostID().String(), PostId: post, UserId: user.String(),
		AuthorId: author.String(), Kind: kind, OccurredAt: timestamppb.Now()}
}

func TestMessageNotifiesOnlyOfflineRecipients(t *testing.T) {
	r := newRig(t)
	ada, bob, cy := id.NewUserID(), id.NewUserID(), id.NewUserID()
	conv := id.NewPostID().String()
	r.online(bob)
	r.online(ada)
	r.mustDeliver(r.event(message(conv, ada, "lunch?", bob, cy, ada)))

	if ns := r.inboxOf(bob); len(ns) != 0 {
		t.Fatalf("online bob was notified: %+v", ns)
	}
	if ns := r.inboxOf(ada); len(ns) != 0 {
		t.Fatalf("the sender was notified: %+v", ns)
	}
	ns := r.inboxOf(cy)
	if len(ns) != 1 {
		t.Fatalf("offline cy has %d notifications, want 1", len(ns))
	}
	n := ns[0]
	if n.Kind != notification.Message || n.SubjectID != conv || n.Count != 1 || n.ActorIDs[0] != ada.String() || n.Text != "New message: lunch?" {
		t.Fatalf("cy's notification %+v", n)
	}

	// More messages in the conversation fold into it; an image says so.
	img := message(conv, ada, "", cy)
	img.Type = eventsv1.MessageType_MESSAGE_TYPE_IMAGE
	r.mustDeliver(r.event(img))
	if ns := r.inboxOf(cy); len(ns) != 1 || ns[0].Count != 2 || ns[0].Text != "You have 2 new messages" {
		t.Fatalf("second message: %+v", ns)
	}
	other := id.NewPostID().String()
	r.mustDeliver(r.event(message(other, ada, "", cy)))
	if ns := r.inboxOf(cy); len(ns) != 2 || ns[0].SubjectID != other || ns[0].Text != "You have a new message" {
		t.Fatalf("message in another conversation: %+v", ns)
	}
}

// Presence is decided once: an event redelivered after the recipient went
// offline does not notify late, and one redelivered after a notification
// does not notify twice.
func TestRedeliveryChangesNothing(t *testing.T) {
	r := newRig(t)
	ada, bob := id.NewUserID(), id.NewUserID()
	conv := id.NewPostID().String()
	r.online(bob)
	seen := r.event(message(conv, ada, "while online", bob))
	r.mustDeliver(seen)
	// An hour later bob's connection has long expired: he is offline.
	ps, err := presence.New(testrig.Redis(t), presence.Config{TTL: time.Minute, Now: func() time.Time { return time.Now().Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	later, err := notify.NewReactor(r.inbox, ps, r.graph, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.codec.Decode(seen)
	if err != nil {
		t.Fatal(err)
	}
	if err := later.React(r.ctx, d); err != nil {
		t.Fatal(err)
	}
	if ns := r.inboxOf(bob); len(ns) != 0 {
		t.Fatalf("redelivery after going offline notified: %+v", ns)
	}

	follow := r.event(&eventsv1.UserFollowed{FollowerId: ada.String(), FolloweeId: bob.String(), FollowedAt: timestamppb.Now()})
	for range 3 {
		r.mustDeliver(follow)
	}
	if ns := r.inboxOf(bob); len(ns) != 1 || ns[0].Count != 1 {
		t.Fatalf("a follow delivered three times: %+v", ns)
	}
}

func TestFollowNotifiesTheFollowed(t *testing.T) {
	r := newRig(t)
	star, fans := id.NewUserID(), []id.UserID{id.NewUserID(), id.NewUserID()}
	r.online(star) // presence does not matter for follows: the inbox is for later
	for _, f := range fans {
		r.mustDeliver(r.event(&eventsv1.UserFollowed{FollowerId: f.String(), FolloweeId: star.String(), FollowedAt: timestamppb.Now()}))
	}
	ns := r.inboxOf(star)
	if len(ns) != 1 || ns[0].Kind != notification.Follow || ns[0].Count != 2 || ns[0].SubjectID != star.String() ||
		ns[0].ActorIDs[0] != fans[1].String() || ns[0].Text != "You have 2 new followers" {
		t.Fatalf("star's inbox %+v", ns)
	}
	for _, f := range fans {
		if ns := r.inboxOf(f); len(ns) != 0 {
			t.Fatalf("the follower was notified: %+v", ns)
		}
	}
}

func TestLikeBurstIsOneNotification(t *testing.T) {
	r := newRig(t)
	author, post := id.NewUserID(), id.NewPostID().String()
	var fans []id.UserID
	for range 20 {
		f := id.NewUserID()
		fans = append(fans, f)
		r.mustDeliver(r.event(engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE, post, f, author)))
	}
	ns := r.inboxOf(author)
	if len(ns) != 1 {
		t.Fatalf("%d notifications for a burst of likes, want 1", len(ns))
	}
	n := ns[0]
	if n.Kind != notification.Like || n.Count != 20 || len(n.ActorIDs) != notification.MaxActors ||
		n.ActorIDs[0] != fans[19].String() || n.SubjectID != post || n.Text != "Your post has 20 new likes" {
		t.Fatalf("burst notification %+v", n)
	}
}

func TestCommentNotifiesTheAuthor(t *testing.T) {
	r := newRig(t)
	author, fan, post := id.NewUserID(), id.NewUserID(), id.NewPostID().String()
	c := engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT, post, fan, author)
	c.CommentId, c.CommentText = id.NewPostID().String(), "great shot"
	r.mustDeliver(r.event(c))
	ns := r.inboxOf(author)
	if len(ns) != 1 || ns[0].Kind != notification.Comment || ns[0].Text != "New comment on your post: great shot" || ns[0].ActorIDs[0] != fan.String() {
		t.Fatalf("author's inbox %+v", ns)
	}
}

func TestOwnActionsAndOtherEngagementsNotifyNoOne(t *testing.T) {
	r := newRig(t)
	author, fan, post := id.NewUserID(), id.NewUserID(), id.NewPostID().String()
	for _, m := range []proto.Message{
		engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE, post, author, author),
		engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT, post, author, author),
		engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_VIEW, post, fan, author),
		engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_SHARE, post, fan, author),
		engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_UNLIKE, post, fan, author),
		&eventsv1.UserFollowed{FollowerId: author.String(), FolloweeId: author.String(), FollowedAt: timestamppb.Now()},
		&eventsv1.UserUnfollowed{FollowerId: fan.String(), FolloweeId: author.String(), UnfollowedAt: timestamppb.Now()},
		&eventsv1.UserRegistered{UserId: fan.String(), Username: "fan", RegisteredAt: timestamppb.Now()},
	} {
		r.mustDeliver(r.event(m))
	}
	if ns := r.inboxOf(author); len(ns) != 0 {
		t.Fatalf("author's inbox %+v", ns)
	}
	if ns := r.inboxOf(fan); len(ns) != 0 {
		t.Fatalf("fan's inbox %+v", ns)
	}
}

func TestMalformedIDsArePermanent(t *testing.T) {
	r := newRig(t)
	for _, m := range []proto.Message{
		&eventsv1.UserFollowed{FollowerId: "nobody", FolloweeId: id.NewUserID().String(), FollowedAt: timestamppb.Now()},
		&eventsv1.Engagement{EngagementId: id.NewPostID().String(), PostId: "p", UserId: id.NewUserID().String(), AuthorId: id.NewUserID().String(),
			Kind: eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE, OccurredAt: timestamppb.Now()},
		message(id.NewConversationID().String(), id.NewUserID(), "x", "not-a-user"),
	} {
		if err := r.reactor.React(r.ctx, r.broken(m)); !delivery.IsPermanent(err) {
			t.Fatalf("%T with a malformed id: %v, want a permanent error", m, err)
		}
	}
}

// user makes an account row, for the blocks table's keys.
func (r *rig) user(name string) id.UserID { return identitytest.User(r.t, r.pool, name) }

// No one is notified of a follow, like, comment or message by someone they
// blocked or who blocked them; others still are, and an unblock brings
// later actions back.
func TestBlockedPairIsNotNotified(t *testing.T) {
	r := newRig(t)
	ada, bob, cyd := r.user("ada"), r.user("bob"), r.user("cyd")
	identitytest.Block(t, r.pool, ada, bob)
	post := id.NewPostID().String()
	conv := id.NewPostID().String()
	comment := engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_COMMENT, post, bob, ada)
	comment.CommentText = "hey"
	for _, m := range []proto.Message{
		&eventsv1.UserFollowed{FollowerId: bob.String(), FolloweeId: ada.String(), FollowedAt: timestamppb.Now()},
		engagement(eventsv1.EngagementKind_ENGAGEMENT_KIND_LIKE, post, bob, ada),
		comment,
		message(conv, bob, "psst", ada, cyd),
		// The blocker's actions do not reach the blocked either.
		&eventsv1.UserFollowed{FollowerId: ada.String(), FolloweeId: bob.String(), FollowedAt: timestamppb.Now()},
	} {
		r.mustDeliver(r.event(m))
	}
	if ns := r.inboxOf(ada); len(ns) != 0 {
		t.Errorf("the blocker was notified: %+v", ns)
	}
	if ns := r.inboxOf(bob); len(ns) != 0 {
		t.Errorf("the blocked was notified: %+v", ns)
	}
	if ns := r.inboxOf(cyd); len(ns) != 1 || ns[0].Kind != notification.Message {
		t.Errorf("a third recipient of the message: %+v, want one message notification", ns)
	}

	if _, err := r.pool.Exec(r.ctx, `DELETE FROM blocks`); err != nil {
		t.Fatal(err)
	}
	r.mustDeliver(r.event(&eventsv1.UserFollowed{FollowerId: bob.String(), FolloweeId: ada.String(), FollowedAt: timestamppb.Now()}))
	if ns := r.inboxOf(ada); len(ns) != 1 || ns[0].Kind != notification.Follow {
		t.Errorf("after the unblock: %+v, want the follow", ns)
	}
}
