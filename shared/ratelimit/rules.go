package ratelimit

import (
	"net/http"
	"strings"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
)

// AccountRule spends the caller's own budget for the route's class:
// uploads, search, other reads, other writes. It runs inside
// authentication (it needs the caller) and inside the router (it reads the
// matched pattern).
func AccountRule(c Config) Rule {
	return func(r *http.Request) (Policy, string, bool) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			return Policy{}, "", false
		}
		method, path, _ := strings.Cut(r.Pattern, " ")
		if method == "" {
			method = r.Method
		}
		var pol Policy
		switch {
		case method == http.MethodPost && path == "/v1/media":
			pol = c.UploadPolicy()
		case path == "/v1/search":
			pol = c.SearchPolicy()
		case method == http.MethodGet || method == http.MethodHead:
			pol = c.ReadPolicy()
		default:
			pol = c.WritePolicy()
		}
		return pol, "user:" + p.UserID.String(), true
	}
}

// AddressRule spends the client address's budget on the routes that have
// no caller yet: logging in, signing up and proving the address. It runs after
// httpapi.ClientIP.
func AddressRule(c Config) Rule {
	return func(r *http.Request) (Policy, string, bool) {
		if r.Method != http.MethodPost {
			return Policy{}, "", false
		}
		var pol Policy
		switch r.URL.Path {
		case "/v1/sessions":
			pol = c.LoginPolicy()
		case "/v1/users":
			pol = c.RegisterPolicy()
		case "/v1/users/verification", "/v1/password-resets/confirmation":
			pol = c.VerifyPolicy()
		case "/v1/password-resets":
			pol = c.ResetPolicy()
		default:
			return Policy{}, "", false
		}
		ip := httpapi.ClientIPFrom(r.Context())
		if !ip.IsValid() {
			return Policy{}, "", false
		}
		return pol, "ip:" + ip.String(), true
	}
}
