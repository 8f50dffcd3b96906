package httpapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/httpapi"
)

// FuzzDecodeCursor feeds DecodeCursor what a client can put in ?cursor=.
// It must never panic; a refusal is always a 400 invalid_cursor; what it
// accepts is a valid position that encodes back to a cursor decoding to
// the same position.
func FuzzDecodeCursor(f *testing.F) {
	good, err := httpapi.EncodeCursor(feedCursor{Score: 1767225600123, Post: "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, good + "=", good[:len(good)-1], strings.ToUpper(good), "", "e30", "bnVsbA", // {} and null
		"eyJzIjotMX0", // {"s":-1}
		"W10",         // []
		strings.Repeat("A", httpapi.MaxCursorLen+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := httpapi.DecodeCursor[feedCursor](s)
		if err != nil {
			var he *httpapi.Error
			if !errors.As(err, &he) || he.Status != http.StatusBadRequest || he.Code != httpapi.CodeInvalidCursor {
				t.Fatalf("DecodeCursor(%q): %v is not a 400 invalid_cursor", s, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("DecodeCursor(%q) accepted an invalid position %+v: %v", s, c, err)
		}
		again, err := httpapi.EncodeCursor(c)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := httpapi.DecodeCursor[feedCursor](again); err != nil || back != c {
			t.Fatalf("position %+v from %q re-encodes to %q, which decodes to %+v, %v", c, s, again, back, err)
		}
	})
}
