package timeline_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/post"
)

// BenchmarkFeed50 serves GET /v1/feed?limit=50 through the handler (token
// check, read, hydration, JSON) in both hydration modes; the baseline is
// feed.Store.Read of the same page without HTTP.
func BenchmarkFeed50(b *testing.B) {
	r := newRig(b)
	alice, bob := r.user("alice"), r.user("bob")
	r.follow(bob, alice)
	for i := range 60 {
		r.post(alice, post.Public, fmt.Sprintf("post number %d with some text", i))
	}
	tok, _, err := r.signer.Issue(auth.Principal{UserID: bob, Role: auth.RoleUser})
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", "/v1/feed?limit=50", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				r.modes[mode].ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
	b.Run("baseline-store-read", func(b *testing.B) {
		for b.Loop() {
			p, err := r.store.Read(r.ctx, bob.String(), feed.ReadOptions{Limit: 50})
			if err != nil || len(p.Items) != 50 {
				b.Fatalf("%d items, %v", len(p.Items), err)
			}
		}
	})
}
