package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/nova-social/nova/shared/auth"
)

// TokenVerifier checks a bearer token; *auth.Verifier is one.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (auth.Claims, error)
}

// Realm names Nova in WWW-Authenticate challenges.
const Realm = "nova"

// Authenticate requires a valid "Authorization: Bearer <JWT>" and puts the
// caller into the request context (auth.FromContext). A missing or
// unusable header answers 401 with a bare challenge, a rejected token 401
// with error="invalid_token" (RFC 6750 §3); when the keys cannot be
// obtained the answer is 503, since the token may be fine.
func Authenticate(v TokenVerifier, log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearer(r.Header.Values("Authorization"))
			if !ok {
				WriteError(w, r, log, Unauthorized("a bearer token is required").
					WithHeader("WWW-Authenticate", `Bearer realm="`+Realm+`"`))
				return
			}
			claims, err := v.Verify(r.Context(), token)
			if err != nil {
				WriteError(w, r, log, tokenError(err))
				return
			}
			p := claims.Principal()
			noteSeen(r.Context(), p)
			next.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), p)))
		})
	}
}

// bearer extracts the token of a single Authorization header with the
// Bearer scheme (case-insensitive, RFC 7235).
func bearer(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// descriptions say which check failed without repeating token contents.
var descriptions = []struct {
	kind error
	text string
}{
	{auth.ErrRevoked, "the session has ended, log in again"},
	{auth.ErrExpired, "the token has expired"},
	{auth.ErrNotYetValid, "the token is not valid yet"},
	{auth.ErrAudience, "the token is not meant for this service"},
	{auth.ErrIssuer, "the token has an unknown issuer"},
	{auth.ErrUnknownKey, "the token is signed with an unknown key"},
	{auth.ErrAlgorithm, "the token uses an unsupported algorithm"},
	{auth.ErrSignature, "the token signature is invalid"},
	{auth.ErrMalformed, "the token is malformed"},
}

func tokenError(err error) *Error {
	if !errors.Is(err, auth.ErrInvalidToken) {
		return Unavailable("authentication is unavailable, try again").Wrap(err)
	}
	desc := "the token is invalid"
	for _, d := range descriptions {
		if errors.Is(err, d.kind) {
			desc = d.text
			break
		}
	}
	return Unauthorized(desc).Wrap(err).WithHeader("WWW-Authenticate",
		`Bearer realm="`+Realm+`", error="invalid_token", error_description="`+desc+`"`)
}
