package dispatcher

import (
	"context"
	"fmt"
	"net/url"

	"github.com/nova-social/nova/cmd/nova/internal/source"
)

// Resolver gives the address of the object a sink or dead-letter sink
// names. On a cluster Knative reads it from the Service's status; locally the
// runtime knows which port serves which function.
type Resolver interface {
	Resolve(ctx context.Context, ref source.Reference) (*url.URL, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, ref source.Reference) (*url.URL, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, ref source.Reference) (*url.URL, error) {
	return f(ctx, ref)
}

// MapResolver resolves a reference by "<namespace>/<name>" first, then by
// its name alone (a function's name is its Knative Service's name), to a URL.
type MapResolver map[string]string

// Resolve looks ref up.
func (m MapResolver) Resolve(_ context.Context, ref source.Reference) (*url.URL, error) {
	raw, ok := m[ref.Namespace+"/"+ref.Name]
	if !ok {
		raw, ok = m[ref.Name]
	}
	if !ok {
		return nil, fmt.Errorf("no address for %s", ref)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("address %q of %s is not an absolute URL", raw, ref)
	}
	return u, nil
}

// resolve turns a destination into the URL events are posted to: the ref's
// address with the relative URI applied, or the absolute URI.
func resolve(ctx context.Context, r Resolver, d source.Destination) (*url.URL, error) {
	if d.Ref == nil {
		if d.URI == nil {
			return nil, fmt.Errorf("destination has neither ref nor uri")
		}
		return d.URI, nil
	}
	if r == nil {
		return nil, fmt.Errorf("no resolver for %s", d.Ref)
	}
	base, err := r.Resolve(ctx, *d.Ref)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", d.Ref, err)
	}
	if d.URI != nil {
		return base.ResolveReference(d.URI), nil
	}
	return base, nil
}
