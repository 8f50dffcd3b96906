package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// KeySet is an immutable set of keys: at most one signing key and any
// number of verification-only keys (older ones awaiting retirement, newer
// ones published ahead of use). It is a KeySource. Change it with Rotate
// and Retire, which return a new set.
type KeySet struct {
	signing *Key
	keys    []Key // signing key first, then in the order given
	byID    map[string]Key
	jwks    []byte
}

// NewKeySet returns a set of keys. Kids must be unique; at most one key may
// hold a private key, and that key signs.
func NewKeySet(keys ...Key) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: a key set needs at least one key", ErrBadKey)
	}
	ks := &KeySet{byID: make(map[string]Key, len(keys))}
	for _, k := range keys {
		if k.ID == "" || len(k.Public) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: key without kid or Ed25519 public key", ErrBadKey)
		}
		if _, dup := ks.byID[k.ID]; dup {
			return nil, fmt.Errorf("%w: kid %q appears twice", ErrBadKey, k.ID)
		}
		if k.CanSign() {
			if ks.signing != nil {
				return nil, fmt.Errorf("%w: two private keys (%s, %s); only one signs", ErrBadKey, ks.signing.ID, k.ID)
			}
			ks.signing = &k
		}
		ks.byID[k.ID] = k
	}
	if ks.signing != nil {
		ks.keys = append(ks.keys, *ks.signing)
	}
	for _, k := range keys {
		if !k.CanSign() {
			ks.keys = append(ks.keys, k)
		}
	}
	doc := JWKS{Keys: make([]JWK, 0, len(ks.keys))}
	for _, k := range ks.keys {
		doc.Keys = append(doc.Keys, k.JWK())
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal jwks: %w", err)
	}
	ks.jwks = b
	return ks, nil
}

// SigningKey returns the key that signs, if the set has one.
func (ks *KeySet) SigningKey() (Key, bool) {
	if ks.signing == nil {
		return Key{}, false
	}
	return *ks.signing, true
}

// Keys returns every key, the signing key first.
func (ks *KeySet) Keys() []Key { return append([]Key(nil), ks.keys...) }

// PublicKey implements KeySource.
func (ks *KeySet) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	k, ok := ks.byID[kid]
	if !ok {
		return nil, tokenErr(ErrUnknownKey, "kid %q", truncate(kid))
	}
	return k.Public, nil
}

// JWKS returns the public JWKS document of every key in the set.
func (ks *KeySet) JWKS() []byte { return append([]byte(nil), ks.jwks...) }

// Rotate returns a set in which next signs and the current signing key is
// kept for verification only, so tokens it signed stay valid until Retire.
func (ks *KeySet) Rotate(next Key) (*KeySet, error) {
	if !next.CanSign() {
		return nil, fmt.Errorf("%w: rotating to %s, which has no private key", ErrBadKey, next.ID)
	}
	keys := []Key{next}
	for _, k := range ks.keys {
		if k.ID == next.ID {
			continue // it was published ahead of use
		}
		keys = append(keys, k.PublicOnly())
	}
	return NewKeySet(keys...)
}

// Retire returns a set without the key kid. Retire a key only once every
// token it signed has expired; the signing key cannot be retired.
func (ks *KeySet) Retire(kid string) (*KeySet, error) {
	if ks.signing != nil && ks.signing.ID == kid {
		return nil, fmt.Errorf("%w: %s is the signing key; rotate first", ErrBadKey, kid)
	}
	if _, ok := ks.byID[kid]; !ok {
		return nil, fmt.Errorf("%w: no key %q", ErrBadKey, kid)
	}
	var keys []Key
	for _, k := range ks.keys {
		if k.ID != kid {
			keys = append(keys, k)
		}
	}
	return NewKeySet(keys...)
}

// JWKSCacheAge is how long clients may cache the served JWKS. Verifiers
// that find an unknown kid refetch sooner (RemoteConfig.MinRefresh).
const JWKSCacheAge = 5 * time.Minute

// JWKSHandler serves the public keys of ks, for
// GET /v1/.well-known/jwks.json.
func JWKSHandler(ks *KeySet) http.Handler {
	body := ks.JWKS()
	cacheControl := "public, max-age=" + strconv.Itoa(int(JWKSCacheAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"error":{"code":"method_not_allowed","message":"use GET"}}`))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", cacheControl)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}
