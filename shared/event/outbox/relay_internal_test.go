package outbox

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nova-social/nova/shared/event/kafka"
)

func TestAcknowledgedKeepsEachKeyFromItsFirstFailure(t *testing.T) {
	batch := []row{
		{id: 1, rec: kafka.Record{Topic: "t", Key: "a"}},
		{id: 2, rec: kafka.Record{Topic: "t", Key: "b"}},
		{id: 3, rec: kafka.Record{Topic: "t", Key: "a"}}, // fails
		{id: 4, rec: kafka.Record{Topic: "t", Key: "b"}},
		{id: 5, rec: kafka.Record{Topic: "t", Key: "a"}}, // acknowledged, but after a's failure
		{id: 6, rec: kafka.Record{Topic: "u", Key: "a"}}, // another topic: another lane of order
	}
	cases := []struct {
		name   string
		err    error
		ids    string
		failed int
	}{
		{"all acknowledged", nil, "[1 2 3 4 5 6]", 0},
		{"one failed", fmt.Errorf("send: %w", errors.Join(&kafka.SendError{Index: 2, Err: errors.New("boom")})), "[1 2 4 6]", 1},
		{"two failed", errors.Join(&kafka.SendError{Index: 0}, &kafka.SendError{Index: 3}), "[2 6]", 2},
		{"not per record", context.DeadlineExceeded, "[]", 6},
		{"mixed", errors.Join(&kafka.SendError{Index: 0}, errors.New("other")), "[]", 6},
		{"bad index", errors.Join(&kafka.SendError{Index: 9}), "[]", 6},
	}
	for _, c := range cases {
		ids, failed := acknowledged(batch, c.err)
		if fmt.Sprint(ids) != c.ids || failed != c.failed {
			t.Errorf("%s: deleted %v, failed %d; want %s, %d", c.name, ids, failed, c.ids, c.failed)
		}
	}
}

func TestKeyHashIsStable(t *testing.T) {
	// Lanes are stored with the rows: the hash must not change between
	// releases (FNV-1a 32 of topic, NUL, key).
	if got := keyHash("content-events", "alice"); got != 1402877588 {
		t.Fatalf("keyHash = %d, want 1402877588", got)
	}
	if keyHash("ab", "c") == keyHash("a", "bc") {
		t.Fatal("topic and key run together")
	}
}
