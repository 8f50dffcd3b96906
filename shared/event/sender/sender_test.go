package sender_test

import (
	"crypto/md5" //nolint:gosec // checking Knative's naming
	"encoding/hex"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/event/sender"
)

func TestParseRef(t *testing.T) {
	for _, s := range []string{"KafkaSource/feed-fanout", "Trigger/dead-letter", " KafkaSource/a.b "} {
		if _, err := sender.ParseRef(s); err != nil {
			t.Errorf("ParseRef(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "feed-fanout", "Service/feed-fanout", "KafkaSource/", "KafkaSource/Feed", "kafkasource/x",
		"KafkaSource/-x", "KafkaSource/a_b", "KafkaSource/" + strings.Repeat("a", 254)} {
		if r, err := sender.ParseRef(s); err == nil {
			t.Errorf("ParseRef(%q) = %v, want an error", s, r)
		}
	}
}

// The subject is the one Knative gives the sender's OIDC service account:
// <name>-oidc-<group>-<kind>, lower-cased, hashed when too long.
func TestSubjectIsKnativesServiceAccount(t *testing.T) {
	for _, c := range []struct {
		ref  sender.Ref
		want string
	}{
		{sender.Ref{Kind: sender.KindKafkaSource, Name: "feed-fanout"}, "feed-fanout-oidc-sources.knative.dev-kafkasource"},
		{sender.Ref{Kind: sender.KindTrigger, Name: "moderation-apply"}, "moderation-apply-oidc-eventing.knative.dev-trigger"},
	} {
		if got := c.ref.ServiceAccount(); got != c.want {
			t.Errorf("%v: service account %q, want %q", c.ref, got, c.want)
		}
		if got := c.ref.Subject("nova"); got != "system:serviceaccount:nova:"+c.want {
			t.Errorf("%v: subject %q", c.ref, got)
		}
	}
	// Too long for 63 characters: the name's first 31 characters and the
	// MD5 of name and suffix together, then as much of the suffix as fits.
	long := strings.Repeat("a", 40)
	suffix := "-oidc-sources.knative.dev-kafkasource"
	sum := md5.Sum([]byte(long + suffix)) //nolint:gosec // checking Knative's naming
	want := long[:31] + hex.EncodeToString(sum[:])
	got := sender.Ref{Kind: sender.KindKafkaSource, Name: long}.ServiceAccount()
	if got != want || len(got) > 63 {
		t.Fatalf("long name: %q (%d), want %q", got, len(got), want)
	}
}
