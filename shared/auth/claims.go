package auth

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nova-social/nova/shared/id"
)

// Role is what a user may do beyond their own data.
type Role string

// The roles a token may carry.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID id.UserID
	Role   Role
	// SessionID is the jti of the token the caller presented: the session
	// a logout ends.
	SessionID string
}

// IsAdmin reports whether the caller holds the admin role.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// Claims are the verified contents of a token.
type Claims struct {
	Issuer    string
	Subject   id.UserID
	Audience  []string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	ID        string // jti
	Role      Role
	KeyID     string // the kid of the header, for logs
}

// Principal returns the caller the claims name.
func (c Claims) Principal() Principal {
	return Principal{UserID: c.Subject, Role: c.Role, SessionID: c.ID}
}

// wireClaims is the JSON form. Pointers tell a missing claim from a zero
// one; every claim is required.
type wireClaims struct {
	Issuer    *string    `json:"iss"`
	Subject   *id.UserID `json:"sub"`
	Audience  audience   `json:"aud"`
	IssuedAt  *int64     `json:"iat"`
	NotBefore *int64     `json:"nbf"`
	Expiry    *int64     `json:"exp"`
	ID        *string    `json:"jti"`
	Role      *Role      `json:"role"`
}

// audience is RFC 7519's aud: one string or an array of strings. Nova
// writes a string.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

func (w wireClaims) claims(kid string) (Claims, error) {
	missing := func(name string) (Claims, error) {
		return Claims{}, tokenErr(ErrMalformed, "claim %s missing", name)
	}
	switch {
	case w.Issuer == nil:
		return missing("iss")
	case w.Subject == nil || w.Subject.IsZero():
		return missing("sub")
	case len(w.Audience) == 0:
		return missing("aud")
	case w.IssuedAt == nil:
		return missing("iat")
	case w.NotBefore == nil:
		return missing("nbf")
	case w.Expiry == nil:
		return missing("exp")
	case w.ID == nil || *w.ID == "":
		return missing("jti")
	case w.Role == nil:
		return missing("role")
	}
	if !w.Role.Valid() {
		return Claims{}, tokenErr(ErrMalformed, "unknown role %q", truncate(string(*w.Role)))
	}
	if *w.Expiry <= *w.NotBefore {
		return Claims{}, tokenErr(ErrMalformed, "exp is not after nbf")
	}
	return Claims{
		Issuer:    *w.Issuer,
		Subject:   *w.Subject,
		Audience:  []string(w.Audience),
		IssuedAt:  time.Unix(*w.IssuedAt, 0),
		NotBefore: time.Unix(*w.NotBefore, 0),
		Expiry:    time.Unix(*w.Expiry, 0),
		ID:        *w.ID,
		Role:      *w.Role,
		KeyID:     kid,
	}, nil
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal an authentication middleware put in
// ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// truncate bounds attacker-chosen strings repeated in errors and logs.
func truncate(s string) string {
	if len(s) > 48 {
		return s[:48] + "…"
	}
	return s
}
