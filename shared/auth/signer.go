package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// SignerConfig configures token issuance.
type SignerConfig struct {
	// Issuer (iss). Default DefaultIssuer.
	Issuer string
	// Audience (aud). Default DefaultAudience.
	Audience string
	// TTL is how long a token is valid. Default 1h. A key is retired no
	// sooner than TTL plus the verifiers' leeway after it stopped signing.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Nova's issuer and audience. Every Nova service accepts the same tokens,
// so one audience names them all.
const (
	DefaultIssuer   = "nova-identity"
	DefaultAudience = "nova"
)

// MaxTTL bounds SignerConfig.TTL: access tokens are not revocable, so they
// must not live long.
const MaxTTL = 24 * time.Hour

// Defaults returns c with zero fields set to their defaults.
func (c SignerConfig) Defaults() SignerConfig {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.TTL == 0 {
		c.TTL = time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports an unusable configuration.
func (c SignerConfig) Validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("issuer is empty"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("audience is empty"))
	}
	if c.TTL < time.Minute || c.TTL > MaxTTL {
		errs = append(errs, fmt.Errorf("ttl %s outside [1m, %s]", c.TTL, MaxTTL))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("clock is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("signer config: %w", err)
	}
	return nil
}

// Signer issues tokens with the signing key of its KeySet. It is safe for
// concurrent use.
type Signer struct {
	cfg  SignerConfig
	keys *KeySet
	key  Key
}

// NewSigner returns a Signer; ks must hold a signing key.
func NewSigner(ks *KeySet, cfg SignerConfig) (*Signer, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	k, ok := ks.SigningKey()
	if !ok {
		return nil, fmt.Errorf("%w: the key set has no private key to sign with", ErrBadKey)
	}
	return &Signer{cfg: cfg, keys: ks, key: k}, nil
}

// Keys returns the signer's key set (for the JWKS endpoint and for a
// Verifier in the same process).
func (s *Signer) Keys() *KeySet { return s.keys }

// Config returns the effective configuration.
func (s *Signer) Config() SignerConfig { return s.cfg }

// Issue returns a signed token for p and the claims it carries.
func (s *Signer) Issue(p Principal) (string, Claims, error) {
	if p.UserID.IsZero() {
		return "", Claims{}, errors.New("issue token: no user id")
	}
	if !p.Role.Valid() {
		return "", Claims{}, fmt.Errorf("issue token: unknown role %q", p.Role)
	}
	now := s.cfg.Now().Truncate(time.Second)
	c := Claims{
		Issuer:    s.cfg.Issuer,
		Subject:   p.UserID,
		Audience:  []string{s.cfg.Audience},
		IssuedAt:  now,
		NotBefore: now,
		Expiry:    now.Add(s.cfg.TTL),
		// jti lets a future deny-list or audit name one token.
		ID:    uuid.Must(uuid.NewV7()).String(),
		Role:  p.Role,
		KeyID: s.key.ID,
	}
	iat, nbf, exp := c.IssuedAt.Unix(), c.NotBefore.Unix(), c.Expiry.Unix()
	w := wireClaims{
		Issuer: &c.Issuer, Subject: &c.Subject, Audience: audience(c.Audience),
		IssuedAt: &iat, NotBefore: &nbf, Expiry: &exp, ID: &c.ID, Role: &c.Role,
	}
	tok, err := encodeJWS(s.key, w)
	if err != nil {
		return "", Claims{}, fmt.Errorf("issue token: %w", err)
	}
	return tok, c, nil
}
