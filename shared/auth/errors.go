package auth

import (
	"errors"
	"fmt"
)

// Errors of token verification. Every one of them also matches
// ErrInvalidToken, so a caller that only needs "reject with 401" checks
// that; ErrKeysUnavailable does not, since the token may be fine.
var (
	// ErrInvalidToken matches every rejection of a token.
	ErrInvalidToken = errors.New("invalid token")

	// ErrMalformed: not a compact JWS of base64url JSON, a header with
	// fields other than alg/kid/typ, claims missing or of the wrong type,
	// or a token over the size limit.
	ErrMalformed = errors.New("malformed token")
	// ErrAlgorithm: alg is anything but EdDSA ("none", "HS256", …).
	ErrAlgorithm = errors.New("unsupported algorithm")
	// ErrUnknownKey: no key with the token's kid.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("bad signature")
	// ErrExpired: exp has passed (beyond the leeway).
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf or iat lies in the future (beyond the leeway).
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrAudience: the token is not meant for this service.
	ErrAudience = errors.New("wrong audience")
	// ErrIssuer: the token was not issued by the expected issuer.
	ErrIssuer = errors.New("wrong issuer")
	// ErrRevoked: the token is sound but its session has ended (logout,
	// password change, revocation, a deleted account).
	ErrRevoked = errors.New("token revoked")

	// ErrKeysUnavailable: the public keys could not be obtained (a JWKS
	// URL did not answer); the token itself was not judged.
	ErrKeysUnavailable = errors.New("verification keys unavailable")
)

// TokenError is the error Verify returns for a rejected token: Kind is one
// of the sentinels above, Detail says what exactly was wrong.
type TokenError struct {
	Kind   error
	Detail string
}

func (e *TokenError) Error() string {
	if e.Detail == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Detail
}

// Unwrap makes errors.Is match both the kind and ErrInvalidToken.
func (e *TokenError) Unwrap() []error { return []error{e.Kind, ErrInvalidToken} }

// Revoked is the error for a sound token whose session has ended.
func Revoked(detail string) error { return &TokenError{Kind: ErrRevoked, Detail: detail} }

func tokenErr(kind error, format string, args ...any) error {
	return &TokenError{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}
