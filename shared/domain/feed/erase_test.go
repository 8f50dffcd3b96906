package feed_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/testrig"
)

// A deleted user leaves no key of theirs and no mention in anyone else's:
// their posts leave followers' feeds, the cache and the scores, their
// follow edges leave both sides of the index; others' state stays. A
// second erasure changes nothing. A private post is in no index of the
// author's, so its cache entry goes with the PostDeleted the account
// deletion emits for each post, here after the erasure, as topics are not
// ordered against each other.
func TestEraseUserLeavesNoTrace(t *testing.T) {
	r := newRig(t)
	ada, bob, cy := r.user(), r.user(), r.user()
	r.follow(bob, ada)
	r.follow(cy, ada)
	r.follow(ada, bob)
	mine := r.post(ada, post.Public)
	private := r.post(ada, post.Private)
	bobs := r.post(bob, post.Public)
	if err := r.store.SetScore(r.ctx, mine.ID, 3); err != nil {
		t.Fatal(err)
	}
	if err := r.store.UpdateProfile(r.ctx, ada, feed.ProfileChange{Username: ptr("ada")}); err != nil {
		t.Fatal(err)
	}
	r.wantFeed(bob, bobs.ID, mine.ID)

	for range 2 {
		if err := r.store.EraseUser(r.ctx, ada); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []post.Summary{mine, private} {
		if _, err := r.store.PostDeleted(r.ctx, p.ID, ada); err != nil {
			t.Fatal(err)
		}
	}
	r.wantFeed(bob, bobs.ID)
	r.wantFeed(cy)
	if n, err := r.store.FollowerCount(r.ctx, bob); err != nil || n != 0 {
		t.Fatalf("bob's followers: %d %v", n, err)
	}
	opt, err := redis.ParseURL(testrig.RedisAdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(opt)
	defer admin.Close()
	found, err := testrig.RedisTraces(context.Background(), admin, ada, mine.ID, private.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Tombstones name a post, not its author, and expire.
	for _, f := range found {
		if !strings.HasPrefix(f, "post:gone:") {
			t.Errorf("left behind: %s", f)
		}
	}
}

func ptr[T any](v T) *T { return &v }
