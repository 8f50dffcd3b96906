package gateway_test

import (
	"context"
	"testing"

	"github.com/nova-social/nova/shared/domain/push"
)

// A running gateway keeps its alive mark, so a push that finds it not
// listening is retried; when Run ends the mark goes, and pushes to its
// former users no longer wait for it.
func TestRunKeepsTheAliveMarkUntilItEnds(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	if n := r.rdb.Exists(ctx, push.AliveKey(r.id)).Val(); n != 1 {
		t.Fatalf("no alive mark while the gateway runs")
	}
	if ttl := r.rdb.PTTL(ctx, push.AliveKey(r.id)).Val(); ttl <= 0 || ttl > push.AliveTTL {
		t.Fatalf("alive mark TTL %s, want within (0, %s]", ttl, push.AliveTTL)
	}
	r.stopRun()
	if n := r.rdb.Exists(ctx, push.AliveKey(r.id)).Val(); n != 0 {
		t.Fatalf("alive mark left after Run ended")
	}
}
