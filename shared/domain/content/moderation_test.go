package content_test

import (
	"errors"
	"testing"
	"time"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/id"
)

func (r *rig) moderate(m content.Moderation) content.ModerationOutcome {
	r.t.Helper()
	out, err := r.svc.Moderate(r.ctx, m)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *rig) get(viewer id.UserID, postID string) (apiPost, int) {
	r.t.Helper()
	res := r.doAs("GET", "/v1/posts/"+postID, viewer, "")
	var p apiPost
	if res.Status == 200 {
		res.json(r.t, &p)
	}
	return p, res.Status
}

// lastEvent returns the newest content event in the outbox.
func (r *rig) lastEvent() outboxEvent {
	r.t.Helper()
	evs := r.events()
	return evs[len(evs)-1]
}

func TestModerateHideShowsTheAuthorWhyAndEmits(t *testing.T) {
	r := newRig(t)
	author, fan := r.user(), r.user()
	r.follows(fan, author)
	p := r.create(author, `{"content":"buy followers here","tags":["deal"]}`)
	hide := content.Moderation{PostID: id.PostID(p.ID), Action: content.ModerationHide,
		Reason: "blocked term: buy followers", DecidedBy: content.DecidedByRules, ContentAt: p.CreatedAt}

	if got := r.moderate(hide); got != content.ModerationApplied {
		t.Fatalf("hide: %s", got)
	}
	if _, code := r.get(fan, p.ID); code != 404 {
		t.Fatalf("follower reads a hidden post: %d", code)
	}
	mine, code := r.get(author, p.ID)
	if code != 200 || !mine.Hidden || mine.HiddenReason != "blocked term: buy followers" {
		t.Fatalf("author sees %+v (%d), want the reason", mine, code)
	}
	ev := r.lastEvent()
	u, ok := ev.Message.(*eventsv1.PostUpdated)
	if !ok || !u.GetHidden() || u.GetHiddenReason() != mine.HiddenReason || u.Content != nil ||
		len(u.GetTags()) != 1 || !u.GetUpdatedAt().AsTime().Equal(mine.UpdatedAt) || !mine.UpdatedAt.After(p.UpdatedAt) {
		t.Fatalf("event %v, want PostUpdated hidden with the reason, full tags, the new updated_at", ev.Message)
	}
	if ev.Key != author.String() {
		t.Fatalf("key %s, want the author", ev.Key)
	}

	// The same decision again (a redelivery) changes and emits nothing.
	before := len(r.events())
	if got := r.moderate(hide); got != content.ModerationUnchanged {
		t.Fatalf("hide again: %s", got)
	}
	if len(r.events()) != before {
		t.Fatal("a repeated decision emitted an event")
	}
}

func TestModerateIgnoresDecisionsAboutOlderVersions(t *testing.T) {
	r := newRig(t)
	author := r.user()
	p := r.create(author, `{"content":"first"}`)
	res := r.doAs("PATCH", "/v1/posts/"+p.ID, author, `{"content":"second"}`)
	if res.Status != 200 {
		t.Fatalf("edit: %d %s", res.Status, res.Body)
	}
	var edited apiPost
	res.json(t, &edited)
	before := len(r.events())
	if got := r.moderate(content.Moderation{PostID: id.PostID(p.ID), Action: content.ModerationHide, Reason: "x",
		DecidedBy: content.DecidedByRules, ContentAt: p.CreatedAt}); got != content.ModerationStale {
		t.Fatalf("decision on the first version: %s, want stale", got)
	}
	if got, _ := r.get(author, p.ID); got.Hidden || len(r.events()) != before {
		t.Fatal("a stale decision changed the post")
	}
	// About the current version it applies; moderation moving updated_at
	// does not make a later decision about that same version stale.
	if got := r.moderate(content.Moderation{PostID: id.PostID(p.ID), Action: content.ModerationHide, Reason: "x",
		DecidedBy: content.DecidedByRules, ContentAt: edited.UpdatedAt}); got != content.ModerationApplied {
		t.Fatalf("decision on the current version: %s", got)
	}
	reviewer := r.user()
	if got := r.moderate(content.Moderation{PostID: id.PostID(p.ID), Action: content.ModerationAllow,
		DecidedBy: reviewer.String(), ContentAt: edited.UpdatedAt}); got != content.ModerationApplied {
		t.Fatalf("reviewer allow on the judged version: %s", got)
	}
	if got, _ := r.get(author, p.ID); got.Hidden || got.HiddenReason != "" {
		t.Fatalf("restored post %+v", got)
	}
	if u := r.lastEvent().Message.(*eventsv1.PostUpdated); u.Hidden == nil || u.GetHidden() {
		t.Fatalf("restore event %v, want hidden=false", u)
	}
}

func TestAutomaticAllowRestoresOnlyWhatTheRulesHid(t *testing.T) {
	r := newRig(t)
	author, reviewer := r.user(), r.user()
	auto := r.create(author, `{"content":"auto-hidden"}`)
	manual := r.create(author, `{"content":"reviewer-hidden"}`)
	r.moderate(content.Moderation{PostID: id.PostID(auto.ID), Action: content.ModerationHide, Reason: "rule",
		DecidedBy: content.DecidedByRules, ContentAt: auto.CreatedAt})
	r.moderate(content.Moderation{PostID: id.PostID(manual.ID), Action: content.ModerationHide, Reason: "reviewer",
		DecidedBy: reviewer.String(), ContentAt: manual.CreatedAt})
	for _, p := range []apiPost{auto, manual} {
		r.moderate(content.Moderation{PostID: id.PostID(p.ID), Action: content.ModerationAllow,
			DecidedBy: content.DecidedByRules, ContentAt: p.CreatedAt})
	}
	if got, _ := r.get(author, auto.ID); got.Hidden {
		t.Fatal("an automatic allow left a rule-hidden post hidden")
	}
	if got, _ := r.get(author, manual.ID); !got.Hidden {
		t.Fatal("an automatic allow restored a post a reviewer hid")
	}
}

func TestModerateRemoveDeletesAndEmits(t *testing.T) {
	r := newRig(t)
	author := r.user()
	p := r.create(author, `{"content":"bad"}`)
	m := content.Moderation{PostID: id.PostID(p.ID), Action: content.ModerationRemove, Reason: "reviewer",
		DecidedBy: r.user().String(), ContentAt: p.CreatedAt}
	if got := r.moderate(m); got != content.ModerationApplied {
		t.Fatalf("remove: %s", got)
	}
	if _, code := r.get(author, p.ID); code != 404 {
		t.Fatalf("removed post answers %d to its author", code)
	}
	if d, ok := r.lastEvent().Message.(*eventsv1.PostDeleted); !ok || d.GetPostId() != p.ID || d.GetUserId() != author.String() {
		t.Fatalf("event %v, want PostDeleted", r.lastEvent().Message)
	}
	if got := r.moderate(m); got != content.ModerationGone {
		t.Fatalf("remove again: %s, want gone", got)
	}
	if got := r.moderate(content.Moderation{PostID: id.NewPostID(), Action: content.ModerationHide,
		DecidedBy: content.DecidedByRules, ContentAt: time.Now()}); got != content.ModerationGone {
		t.Fatalf("unknown post: %s", got)
	}
}

func TestModerateRefusesIncompleteDecisions(t *testing.T) {
	r := newRig(t)
	for _, m := range []content.Moderation{
		{PostID: id.NewPostID(), Action: "ban", DecidedBy: "auto", ContentAt: time.Now()},
		{PostID: id.NewPostID(), Action: content.ModerationHide, ContentAt: time.Now()},
		{PostID: id.NewPostID(), Action: content.ModerationHide, DecidedBy: "auto"},
	} {
		if _, err := r.svc.Moderate(r.ctx, m); !errors.Is(err, content.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", m, err)
		}
	}
}
