package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrBadKey matches every failure to read a key.
var ErrBadKey = errors.New("bad key")

// Key is one Ed25519 key: a public key, and the private key when this
// process signs with it.
type Key struct {
	// ID is the kid. Keys made here use the RFC 7638 JWK thumbprint, so the
	// same key has the same kid wherever it is loaded.
	ID      string
	Public  ed25519.PublicKey
	private ed25519.PrivateKey
}

// GenerateKey returns a fresh signing key.
func GenerateKey() (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return PrivateKey(priv), nil
}

// PrivateKey returns the signing key of priv, with its thumbprint as kid.
func PrivateKey(priv ed25519.PrivateKey) Key {
	pub := priv.Public().(ed25519.PublicKey)
	return Key{ID: Thumbprint(pub), Public: pub, private: priv}
}

// PublicKey returns the verification key of pub, with its thumbprint as kid.
func PublicKey(pub ed25519.PublicKey) Key {
	return Key{ID: Thumbprint(pub), Public: pub}
}

// CanSign reports whether k holds a private key.
func (k Key) CanSign() bool { return k.private != nil }

// PublicOnly returns k without its private key.
func (k Key) PublicOnly() Key { return Key{ID: k.ID, Public: k.Public} }

// Thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key
// (RFC 8037 §A.3): SHA-256 over {"crv":"Ed25519","kty":"OKP","x":…}.
func Thumbprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`))
	return b64.EncodeToString(sum[:])
}

// JWK is a JSON Web Key of an Ed25519 key (RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	D   string `json:"d,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// JWKS is a JSON Web Key Set document.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK returns the public JWK of k; the private half never leaves through
// this method.
func (k Key) JWK() JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(k.Public), Kid: k.ID, Alg: algEdDSA, Use: "sig"}
}

// PrivateJWK returns the JWK of k including the private key (d).
func (k Key) PrivateJWK() (JWK, error) {
	if !k.CanSign() {
		return JWK{}, fmt.Errorf("%w: %s has no private key", ErrBadKey, k.ID)
	}
	j := k.JWK()
	j.D = b64.EncodeToString(k.private.Seed())
	return j, nil
}

// MarshalPrivatePEM returns k's private key as a PKCS#8 PEM block.
func (k Key) MarshalPrivatePEM() ([]byte, error) {
	if !k.CanSign() {
		return nil, fmt.Errorf("%w: %s has no private key", ErrBadKey, k.ID)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Key returns the key the JWK describes.
func (j JWK) Key() (Key, error) {
	bad := func(format string, args ...any) (Key, error) {
		return Key{}, fmt.Errorf("%w: jwk %q: %s", ErrBadKey, j.Kid, fmt.Sprintf(format, args...))
	}
	if j.Kty != "OKP" || j.Crv != "Ed25519" {
		return bad("kty %q crv %q, want OKP Ed25519", j.Kty, j.Crv)
	}
	if j.Alg != "" && j.Alg != algEdDSA {
		return bad("alg %q, want EdDSA", j.Alg)
	}
	if j.Use != "" && j.Use != "sig" {
		return bad("use %q, want sig", j.Use)
	}
	x, err := b64.DecodeString(j.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return bad("x is not a base64url Ed25519 public key")
	}
	k := PublicKey(ed25519.PublicKey(x))
	if j.D != "" {
		d, err := b64.DecodeString(j.D)
		if err != nil || len(d) != ed25519.SeedSize {
			return bad("d is not a base64url Ed25519 seed")
		}
		priv := ed25519.NewKeyFromSeed(d)
		if !bytes.Equal(priv.Public().(ed25519.PublicKey), k.Public) {
			return bad("d does not belong to x")
		}
		k = PrivateKey(priv)
	}
	// A kid chosen by whoever made the JWK is kept: tokens carry it.
	if j.Kid != "" {
		k.ID = j.Kid
	}
	return k, nil
}

// ParsePrivateKey reads a signing key from a PKCS#8 PEM block ("PRIVATE
// KEY") or a JWK with d.
func ParsePrivateKey(data []byte) (Key, error) {
	data = bytes.TrimSpace(data)
	if bytes.HasPrefix(data, []byte("{")) {
		var j JWK
		if err := strictJSON(data, &j); err != nil {
			return Key{}, fmt.Errorf("%w: private jwk: %w", ErrBadKey, err)
		}
		k, err := j.Key()
		if err != nil {
			return Key{}, err
		}
		if !k.CanSign() {
			return Key{}, fmt.Errorf("%w: jwk %q has no private key (d)", ErrBadKey, k.ID)
		}
		return k, nil
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return Key{}, fmt.Errorf("%w: want a PKCS#8 PEM block (PRIVATE KEY) or a JWK", ErrBadKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return Key{}, fmt.Errorf("%w: more than one PEM block", ErrBadKey)
	}
	raw, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	priv, ok := raw.(ed25519.PrivateKey)
	if !ok {
		return Key{}, fmt.Errorf("%w: a %T, want an Ed25519 key", ErrBadKey, raw)
	}
	return PrivateKey(priv), nil
}

// ParsePublicKeys reads verification keys from a JWKS document, a single
// JWK, or one or more PEM "PUBLIC KEY" blocks. Private parts, if present,
// are dropped: verification never needs them.
func ParsePublicKeys(data []byte) ([]Key, error) {
	data = bytes.TrimSpace(data)
	var keys []Key
	switch {
	case bytes.HasPrefix(data, []byte("{")):
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(data, &probe); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
		}
		var jwks []JWK
		if _, isSet := probe["keys"]; isSet {
			var set JWKS
			if err := strictJSON(data, &set); err != nil {
				return nil, fmt.Errorf("%w: jwks: %w", ErrBadKey, err)
			}
			jwks = set.Keys
		} else {
			var j JWK
			if err := strictJSON(data, &j); err != nil {
				return nil, fmt.Errorf("%w: jwk: %w", ErrBadKey, err)
			}
			jwks = []JWK{j}
		}
		for _, j := range jwks {
			k, err := j.Key()
			if err != nil {
				return nil, err
			}
			keys = append(keys, k.PublicOnly())
		}
	default:
		for rest := data; len(bytes.TrimSpace(rest)) > 0; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil || block.Type != "PUBLIC KEY" {
				return nil, fmt.Errorf("%w: want a JWKS, a JWK or PEM PUBLIC KEY blocks", ErrBadKey)
			}
			raw, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
			}
			pub, ok := raw.(ed25519.PublicKey)
			if !ok {
				return nil, fmt.Errorf("%w: a %T, want an Ed25519 key", ErrBadKey, raw)
			}
			keys = append(keys, PublicKey(pub))
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrBadKey)
	}
	return keys, nil
}

// strictJSON decodes exactly one JSON value with no unknown fields.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

var b64 = base64.RawURLEncoding.Strict()
