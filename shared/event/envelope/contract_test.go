package envelope_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/envelope/roundtrip"
)

// A producer is held to the rules its consumers enforce: Codec.New refuses
// what Codec.Decode would, with the same reason.
func TestNewRefusesWhatConsumersRefuse(t *testing.T) {
	c := codec()
	user := "0190f1c2-7a3b-7c4d-8e5f-000000000075"
	at := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	for _, tc := range []struct {
		name   string
		msg    *eventsv1.PostCreated
		reason string
	}{
		{"post id not a UUID", &eventsv1.PostCreated{PostId: "post-123", UserId: user, CreatedAt: at},
			`PostCreated.post_id: invalid post id "post-123"`},
		{"no time", &eventsv1.PostCreated{PostId: user, UserId: user}, "PostCreated.created_at is required"},
		{"undefined visibility", &eventsv1.PostCreated{PostId: user, UserId: user, CreatedAt: at, Visibility: 42},
			"PostCreated.visibility: 42 is not a value of PostVisibility"},
		{"media item without its id", &eventsv1.PostCreated{PostId: user, UserId: user, CreatedAt: at,
			Media: []*eventsv1.MediaRef{{Type: eventsv1.MediaType_MEDIA_TYPE_IMAGE}}}, "PostCreated.media[0].media_id is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.New(tc.msg)
			if !errors.Is(err, envelope.ErrContract) || !strings.Contains(envelope.Reason(err), tc.reason) {
				t.Fatalf("New: %v, want ErrContract with %q", err, tc.reason)
			}
			if !envelope.IsDecodeError(err) {
				t.Errorf("a contract error is permanent: IsDecodeError(%v) = false", err)
			}
		})
	}
}

// Every rule in the schema is one its field can obey, and every event's
// message has one event-time field: the codec compiled them, and a
// sample of each type keeps them.
func TestEveryEventTypeHasItsContract(t *testing.T) {
	c := codec()
	for i, et := range catalog.Default().Events() {
		if err := c.Check(roundtrip.Sample(et, i)); err != nil {
			t.Errorf("%s: sample breaks the contract: %v", et.Type, err)
		}
		fields := et.Message.ProtoReflect().Descriptor().Fields()
		times, key := 0, envelope.Rules(fields.ByName(et.KeyField))
		for j := range fields.Len() {
			if envelope.Rules(fields.Get(j)).GetEventTime() {
				times++
			}
		}
		if times != 1 {
			t.Errorf("%s: %d event_time fields, want 1", et.Type, times)
		}
		if !key.GetRequired() || envelope.IDKind(key) == "" {
			t.Errorf("%s: its key %s is not a required id (rules %v)", et.Type, et.KeyField, key)
		}
	}
}

// BenchmarkDecode measures Codec.Decode of every event type, which checks
// the contract, beside Codec.Check alone (the contract's share): the cost
// of decoding without the contract is the difference.
func BenchmarkDecode(b *testing.B) {
	c := codec()
	events, msgs := roundtrip.Events(b, c)
	b.Run("decode+contract", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := c.Decode(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("contract", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := c.Check(msgs[i%len(msgs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
