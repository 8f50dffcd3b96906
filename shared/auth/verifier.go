package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// KeySource finds the public key of a kid. *KeySet and *RemoteKeys
// implement it. An unknown kid is an error matching ErrUnknownKey; a
// failure to obtain keys at all matches ErrKeysUnavailable.
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// VerifierConfig configures token verification.
type VerifierConfig struct {
	// Issuer the token must carry (iss). Default DefaultIssuer.
	Issuer string
	// Audience the token must include (aud). Default DefaultAudience.
	Audience string
	// Leeway tolerated on exp, nbf and iat for clock skew between hosts.
	// Default 30s, at most 5m.
	Leeway time.Duration
	// MaxTokenBytes rejects larger tokens before any decoding. Default 4 KiB
	// (Nova's are about 400 bytes).
	MaxTokenBytes int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// MaxLeeway bounds VerifierConfig.Leeway.
const MaxLeeway = 5 * time.Minute

// Defaults returns c with zero fields set to their defaults.
func (c VerifierConfig) Defaults() VerifierConfig {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.Leeway == 0 {
		c.Leeway = 30 * time.Second
	}
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = 4096
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports an unusable configuration.
func (c VerifierConfig) Validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("issuer is empty"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("audience is empty"))
	}
	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("leeway %s outside [0, %s]", c.Leeway, MaxLeeway))
	}
	if c.MaxTokenBytes < 256 {
		errs = append(errs, fmt.Errorf("max token bytes %d below 256", c.MaxTokenBytes))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("clock is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("verifier config: %w", err)
	}
	return nil
}

// Verifier checks tokens against public keys only. It is safe for
// concurrent use.
type Verifier struct {
	cfg  VerifierConfig
	keys KeySource
}

// NewVerifier returns a Verifier reading keys from keys.
func NewVerifier(keys KeySource, cfg VerifierConfig) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("verifier: no key source")
	}
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Verifier{cfg: cfg, keys: keys}, nil
}

// Verify checks token and returns its claims. A rejected token gives a
// *TokenError matching ErrInvalidToken and its kind (ErrExpired, …); a
// failure to obtain keys matches ErrKeysUnavailable.
//
// Order matters: size, form and algorithm first, then the key and the
// signature, and only then is the payload parsed — nothing an attacker
// wrote is interpreted before the signature holds.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if len(token) > v.cfg.MaxTokenBytes {
		return Claims{}, tokenErr(ErrMalformed, "token is %d bytes, limit %d", len(token), v.cfg.MaxTokenBytes)
	}
	p, err := splitJWS(token)
	if err != nil {
		return Claims{}, err
	}
	pub, err := v.keys.PublicKey(ctx, p.header.Kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return Claims{}, err
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	if !ed25519.Verify(pub, []byte(p.signingInput), p.sig) {
		return Claims{}, tokenErr(ErrSignature, "kid %q", truncate(p.header.Kid))
	}
	var w wireClaims
	dec := json.NewDecoder(bytes.NewReader(p.payload))
	if err := dec.Decode(&w); err != nil || dec.More() {
		return Claims{}, tokenErr(ErrMalformed, "claims are not one JSON object of the expected types")
	}
	c, err := w.claims(p.header.Kid)
	if err != nil {
		return Claims{}, err
	}
	if c.Issuer != v.cfg.Issuer {
		return Claims{}, tokenErr(ErrIssuer, "iss %q, want %q", truncate(c.Issuer), v.cfg.Issuer)
	}
	if !slices.Contains(c.Audience, v.cfg.Audience) {
		return Claims{}, tokenErr(ErrAudience, "aud does not include %q", v.cfg.Audience)
	}
	now := v.cfg.Now()
	if !now.Before(c.Expiry.Add(v.cfg.Leeway)) {
		return Claims{}, tokenErr(ErrExpired, "expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	}
	if now.Add(v.cfg.Leeway).Before(c.NotBefore) {
		return Claims{}, tokenErr(ErrNotYetValid, "not before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.Add(v.cfg.Leeway).Before(c.IssuedAt) {
		return Claims{}, tokenErr(ErrNotYetValid, "issued in the future (%s)", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return c, nil
}
