// Package sender is who may post events to a Nova function, and how the
// function knows. With Knative Eventing's authentication-oidc feature a
// KafkaSource (or a Kafka Broker's Trigger) sends each event with a bearer
// token that the cluster's OIDC issuer (the Kubernetes API server) signed
// for the source's own service account and the sink's audience. A function
// verifies the token (issuer, audience, expiry, signature from the
// issuer's discovery document and JWKS) and admits only the senders its
// EventPolicy names: anything else is a 401 or a 403, which changes
// nothing.
//
// The local runtime plays the cluster's part with package issuer: it signs
// the same tokens with a key of its own and serves the same discovery
// document, so a function verifies them as it would in a cluster.
package sender

import (
	"context"
	"crypto/md5" //nolint:gosec // Knative's name derivation, not a security use
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Kinds of sender a policy may name, with the API group Knative derives the
// sender's service account from.
const (
	KindKafkaSource = "KafkaSource"
	KindTrigger     = "Trigger"
)

var groups = map[string]string{
	KindKafkaSource: "sources.knative.dev",
	KindTrigger:     "eventing.knative.dev",
}

// Ref names a sender as an EventPolicy's spec.from[].ref does: a kind and
// an object name in the function's namespace. Make one with ParseRef.
type Ref struct {
	Kind, Name string
}

var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// ParseRef reads "<Kind>/<name>" (KafkaSource/feed-fanout).
func ParseRef(s string) (Ref, error) {
	kind, name, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Ref{}, fmt.Errorf("sender %q: want <Kind>/<name>", s)
	}
	if _, known := groups[kind]; !known {
		return Ref{}, fmt.Errorf("sender %q: kind %q is neither %s nor %s", s, kind, KindKafkaSource, KindTrigger)
	}
	if len(name) > 253 || !dnsName.MatchString(name) {
		return Ref{}, fmt.Errorf("sender %q: %q is not a Kubernetes object name", s, name)
	}
	return Ref{Kind: kind, Name: name}, nil
}

func (r Ref) String() string { return r.Kind + "/" + r.Name }

// ServiceAccount is the name of the service account Knative makes for the
// sender's OIDC identity: the object's name with "-oidc-<group>-<kind>",
// lower-cased, shortened with an MD5 of the name as Kubernetes names must
// fit in 63 characters (knative.dev/pkg kmeta.ChildName's rule).
func (r Ref) ServiceAccount() string {
	suffix := strings.ToLower("-oidc-" + groups[r.Kind] + "-" + r.Kind)
	return strings.ToLower(childName(r.Name, suffix))
}

// Subject is the token subject of the sender in namespace ns.
func (r Ref) Subject(ns string) string {
	return "system:serviceaccount:" + ns + ":" + r.ServiceAccount()
}

const (
	maxName  = 63
	hashHead = maxName - 2*md5.Size // room left beside a hex MD5
)

// childName joins parent and suffix; when that is longer than a name may
// be, the parent's head and the MD5 of the parent stand in for the parent
// (and if even the suffix leaves no room, a hash of both is used).
func childName(parent, suffix string) string {
	if len(parent)+len(suffix) <= maxName {
		return parent + suffix
	}
	if hashHead-len(suffix) > 0 {
		sum := md5.Sum([]byte(parent)) //nolint:gosec // naming only
		return parent[:hashHead-len(suffix)] + hex.EncodeToString(sum[:]) + suffix
	}
	sum := md5.Sum([]byte(parent + suffix)) //nolint:gosec // naming only
	head := parent
	if len(head) > hashHead {
		head = head[:hashHead]
	}
	out := head + hex.EncodeToString(sum[:])
	if d := maxName - len(out); d > 0 {
		out += suffix[:d]
	}
	return strings.TrimRightFunc(out, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
	})
}

// Identity is a verified sender.
type Identity struct {
	// Subject is the token's sub, system:serviceaccount:<ns>:<name>.
	Subject string
	// Sender is the policy's entry the subject is.
	Sender Ref
}

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext is the identity a request was verified as; false when the
// request carried none (authentication switched off).
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}
