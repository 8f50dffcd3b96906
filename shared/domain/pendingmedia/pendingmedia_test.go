package pendingmedia_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/domain/pendingmedia"
	"github.com/nova-social/nova/shared/testrig"
)

func TestPendingForAnHour(t *testing.T) {
	ctx := context.Background()
	rdb := testrig.Redis(t)
	s, err := pendingmedia.New(rdb, 0)
	if err != nil {
		t.Fatal(err)
	}
	user := "u-" + testrig.ID()
	now := time.Now()
	for i, age := range []time.Duration{90 * time.Minute, 59 * time.Minute, time.Minute} {
		if err := s.Add(ctx, user, fmt.Sprint("m", i), now.Add(-age), now); err != nil {
			t.Fatal(err)
		}
	}
	// Redelivered: still one entry.
	if err := s.Add(ctx, user, "m2", now.Add(-time.Minute), now); err != nil {
		t.Fatal(err)
	}
	got, err := s.Pending(ctx, user, now)
	if err != nil || fmt.Sprint(got) != "[m1 m2]" {
		t.Fatalf("pending %v %v, want the two younger than an hour, oldest first", got, err)
	}
	// The expired one was pruned, and the key lives one TTL.
	if n := rdb.ZCard(ctx, pendingmedia.Key(user)).Val(); n != 2 {
		t.Fatalf("%d entries stored", n)
	}
	if ttl := rdb.TTL(ctx, pendingmedia.Key(user)).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("key TTL %s", ttl)
	}
	// Two minutes on, m1 is past its hour.
	if got, _ := s.Pending(ctx, user, now.Add(2*time.Minute)); fmt.Sprint(got) != "[m2]" {
		t.Fatalf("pending later %v", got)
	}
	if err := s.Remove(ctx, user, "m2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Pending(ctx, user, now); fmt.Sprint(got) != "[m1]" {
		t.Fatalf("after remove %v", got)
	}
	if _, err := pendingmedia.New(rdb, time.Millisecond); err == nil {
		t.Fatal("a TTL under a second accepted")
	}
}
