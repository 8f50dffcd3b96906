package httpapi

import (
	"context"

	"github.com/nova-social/nova/shared/auth"
)

type seenKey struct{}

func withSeen(ctx context.Context, s *seenPrincipal) context.Context {
	return context.WithValue(ctx, seenKey{}, s)
}

// noteSeen tells an outer AccessLog who the caller is.
func noteSeen(ctx context.Context, p auth.Principal) {
	if s, ok := ctx.Value(seenKey{}).(*seenPrincipal); ok {
		s.p, s.ok = p, true
	}
}
