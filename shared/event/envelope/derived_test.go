package envelope_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nova-social/nova/shared/event/envelope"
)

func TestDerivedIDIsStableAndV7(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	a := envelope.DerivedID(at, "/nova/content-service", "e1")
	if a != envelope.DerivedID(at, "/nova/content-service", "e1") {
		t.Fatal("derived id not stable")
	}
	if a == envelope.DerivedID(at, "/nova/content-service", "e2") {
		t.Fatal("different triggers share an id")
	}
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		t.Fatalf("%s is not a UUIDv7 (%v)", a, err)
	}
	// The ids functions have emitted stay the ids they emit: consumers
	// deduplicate on them across a deploy.
	for _, c := range []struct{ got, want string }{
		{a, "01a21293-b600-7797-a366-196e4dba7afd"},
		{envelope.DerivedID(at, "ranking", "0193a0a0-0000-7000-8000-000000000001", "7"), "01a21293-b600-753e-917e-a441f7f8a217"},
	} {
		if c.got != c.want {
			t.Errorf("derived id %s, want %s", c.got, c.want)
		}
	}
	sec, nsec := u.Time().UnixTime()
	if got := time.Unix(sec, nsec).UTC(); !got.Equal(at) {
		t.Fatalf("uuid time %v, want %v", got, at)
	}
}
