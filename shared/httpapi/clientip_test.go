package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/nova-social/nova/shared/httpapi"
)

func TestClientIP(t *testing.T) {
	for _, c := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"a direct client", "203.0.113.7:4000", nil, "203.0.113.7"},
		{"a direct client's header is ignored", "203.0.113.7:4000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"behind the pod's proxy", "127.0.0.1:5000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"behind an ingress and the activator", "127.0.0.1:5000", []string{"203.0.113.7, 10.1.2.3", "10.4.5.6"}, "203.0.113.7"},
		{"a spoofed entry left of the client's", "127.0.0.1:5000", []string{"198.51.100.1, 203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
		{"garbage left by the client", "127.0.0.1:5000", []string{"not-an-ip, 203.0.113.7"}, "203.0.113.7"},
		{"garbage at the proxy's end", "10.0.0.9:5000", []string{"203.0.113.7, nonsense"}, "10.0.0.9"},
		{"only proxies", "127.0.0.1:5000", []string{"10.1.2.3"}, "10.1.2.3"},
		{"IPv4-mapped IPv6", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
		{"IPv6 client", "[::1]:1", []string{"2001:db8::5"}, "2001:db8::5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got netip.Addr
			h := httpapi.ClientIP(httpapi.DefaultTrustedProxies())(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = httpapi.ClientIPFrom(r.Context())
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got.String() != c.want {
				t.Errorf("client %s, want %s", got, c.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	if p, err := httpapi.ParseTrustedProxies(""); err != nil || len(p) != len(httpapi.DefaultTrustedProxies()) {
		t.Errorf("unset: %v, %v", p, err)
	}
	if p, err := httpapi.ParseTrustedProxies("none"); err != nil || len(p) != 0 {
		t.Errorf("none: %v, %v", p, err)
	}
	if p, err := httpapi.ParseTrustedProxies(" 10.1.2.3/8, 2001:db8::/32"); err != nil || len(p) != 2 || p[0].String() != "10.0.0.0/8" {
		t.Errorf("two prefixes: %v, %v", p, err)
	}
	for _, bad := range []string{"10.0.0.1", "10.0.0.0/33", "proxy", "10.0.0.0/8,"} {
		if _, err := httpapi.ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
