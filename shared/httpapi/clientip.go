package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type clientIPKey struct{}

// DefaultTrustedProxies are the peers whose X-Forwarded-For is believed:
// loopback (Knative's queue-proxy in the pod) and the private ranges a
// cluster's activator and ingress gateway live in (RFC 1918, RFC 4193). A
// deployment whose ingress sits elsewhere sets NOVA_TRUSTED_PROXIES.
func DefaultTrustedProxies() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fc00::/7"),
	}
}

// ParseTrustedProxies reads NOVA_TRUSTED_PROXIES: comma-separated CIDR
// prefixes; unset is DefaultTrustedProxies, "none" trusts no one (every
// peer is a client).
func ParseTrustedProxies(v string) ([]netip.Prefix, error) {
	v = strings.TrimSpace(v)
	switch v {
	case "":
		return DefaultTrustedProxies(), nil
	case "none":
		return []netip.Prefix{}, nil
	}
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("NOVA_TRUSTED_PROXIES: %q is not a CIDR prefix", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ClientIP finds the address each request came from and puts it in the
// context (ClientIPFrom): the peer's, unless the peer is a trusted proxy;
// then X-Forwarded-For is read from the right, each proxy having appended
// the address it received from, and the first address that is no trusted
// proxy is the client. Entries left of it were written by the client and
// are never believed, so no one chooses their own address by sending the
// header.
func ClientIP(trusted []netip.Prefix) Middleware {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := clientIP(r, isTrusted)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip)))
		})
	}
}

func clientIP(r *http.Request, trusted func(netip.Addr) bool) netip.Addr {
	ip := peerIP(r.RemoteAddr)
	if !ip.IsValid() || !trusted(ip) {
		return ip
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				// A proxy writes addresses; garbage came from further
				// left, from whoever the last good hop received it from.
				return ip
			}
			a = a.Unmap()
			if !trusted(a) {
				return a
			}
			ip = a
		}
	}
	return ip
}

func peerIP(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ClientIPFrom returns the address ClientIP found; the zero Addr when
// ClientIP did not run or the peer had none.
func ClientIPFrom(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(clientIPKey{}).(netip.Addr)
	return a
}
