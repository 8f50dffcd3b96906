package sender

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Errors a request's sender check ends in. Each is wrapped with the reason.
var (
	// ErrNoToken: the request has no bearer token (401).
	ErrNoToken = errors.New("no bearer token")
	// ErrInvalidToken: the token is malformed, expired, for another
	// audience or issuer, or not signed by the issuer's keys (401).
	ErrInvalidToken = errors.New("invalid token")
	// ErrForbidden: a valid token of a sender the policy does not admit (403).
	ErrForbidden = errors.New("sender not admitted")
	// ErrUnavailable: the issuer's discovery document or keys cannot be
	// had, so nothing can be verified now (503, retried).
	ErrUnavailable = errors.New("sender verification unavailable")
)

// Authenticator checks who sent a request; *Verifier is one. A receiver
// (an event function, the Broker's ingress) runs it before reading the
// body.
type Authenticator interface {
	Authenticate(r *http.Request) (Identity, error)
}

// Status is the HTTP answer to a refused sender: 403 for a sender the
// policy does not name, 503 while the issuer cannot be reached (retried),
// 401 otherwise (no valid token). Knative dead-letters 401 and 403.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// signingAlgs are the algorithms a Kubernetes API server signs service
// account tokens with (RS256 by default, ES256 with an EC key).
var signingAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256}

// maxTokenBytes refuses absurd headers before any parsing (service account
// tokens are about 1 KB).
const maxTokenBytes = 16 << 10

// rediscoverAfter spaces attempts at an issuer that did not answer.
const rediscoverAfter = 2 * time.Second

// Verifier checks the sender of each request. It is safe for concurrent
// use.
type Verifier struct {
	cfg    Config
	client *http.Client
	// clientErr is why no discovery client could be made.
	clientErr error
	allowed   map[string]Ref // subject → sender

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier // nil until discovery succeeds
	lastTry  time.Time
	lastErr  error

	cacheMu sync.Mutex
	cache   map[[sha256.Size]byte]cached
}

type cached struct {
	id     Identity
	expiry time.Time
}

// NewVerifier returns a verifier for cfg (Mode must be ModeOIDC). It does
// not reach the issuer: the first Ready or Verify does.
func NewVerifier(cfg Config) (*Verifier, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Mode != ModeOIDC {
		return nil, fmt.Errorf("event senders: a verifier needs mode %q, not %q", ModeOIDC, cfg.Mode)
	}
	v := &Verifier{cfg: cfg, client: cfg.HTTPClient, allowed: map[string]Ref{}, cache: map[[sha256.Size]byte]cached{}}
	if v.client == nil {
		// A pod whose service account is not mounted yet (or a CA that
		// does not read) is not ready, with the reason; not a function
		// that will not start.
		v.client, v.clientErr = discoveryClient(cfg)
	}
	for _, r := range cfg.Senders {
		v.allowed[r.Subject(cfg.Namespace)] = r
	}
	return v, nil
}

// Audience is what tokens must be issued for.
func (v *Verifier) Audience() string { return v.cfg.Audience }

// Ready reports whether the issuer's discovery document has been read, and
// tries to read it if not.
func (v *Verifier) Ready(ctx context.Context) error {
	_, err := v.tokenVerifier(ctx)
	return err
}

// Authenticate checks r's bearer token and the sender it names.
func (v *Verifier) Authenticate(r *http.Request) (Identity, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Identity{}, fmt.Errorf("%w: the request has no Authorization header", ErrNoToken)
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Identity{}, fmt.Errorf("%w: the Authorization header is not a bearer token", ErrNoToken)
	}
	return v.Verify(r.Context(), token)
}

// Verify checks token: its signature by the issuer's keys, issuer,
// audience and expiry, then that its subject is an admitted sender in the
// function's namespace. A token verified before is not verified again
// until it expires.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	if len(token) > maxTokenBytes {
		return Identity{}, fmt.Errorf("%w: %d bytes", ErrInvalidToken, len(token))
	}
	key := sha256.Sum256([]byte(token))
	now := v.cfg.Now()
	v.cacheMu.Lock()
	c, hit := v.cache[key]
	if hit && !now.Before(c.expiry) {
		delete(v.cache, key)
		hit = false
	}
	v.cacheMu.Unlock()
	if hit {
		return c.id, nil
	}
	tv, err := v.tokenVerifier(ctx)
	if err != nil {
		return Identity{}, err
	}
	tok, err := tv.Verify(ctx, token)
	if err != nil {
		if ctx.Err() != nil || isFetchFailure(err) {
			return Identity{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	ref, ok := v.allowed[tok.Subject]
	if !ok && v.cfg.SameNamespace {
		ok = strings.HasPrefix(tok.Subject, "system:serviceaccount:"+v.cfg.Namespace+":")
	}
	if !ok {
		return Identity{}, fmt.Errorf("%w: %q may not send events to %s (its senders: %s)", ErrForbidden, tok.Subject, v.cfg.Audience, v.senders())
	}
	id := Identity{Subject: tok.Subject, Sender: ref}
	v.remember(key, cached{id: id, expiry: tok.Expiry})
	return id, nil
}

func (v *Verifier) senders() string {
	if v.cfg.SameNamespace {
		return "any service account of namespace " + v.cfg.Namespace
	}
	names := make([]string, len(v.cfg.Senders))
	for i, r := range v.cfg.Senders {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

// remember keeps a verified token; a full cache first drops what has
// expired and, if that frees nothing, starts over (a token not found is
// only verified again).
func (v *Verifier) remember(key [sha256.Size]byte, c cached) {
	if v.cfg.CacheSize < 0 {
		return
	}
	v.cacheMu.Lock()
	defer v.cacheMu.Unlock()
	if len(v.cache) >= v.cfg.CacheSize {
		now := v.cfg.Now()
		for k, e := range v.cache {
			if !now.Before(e.expiry) {
				delete(v.cache, k)
			}
		}
		if len(v.cache) >= v.cfg.CacheSize {
			clear(v.cache)
		}
	}
	v.cache[key] = c
}

// isFetchFailure tells a key set that could not be fetched from a token
// that does not verify: go-oidc reports both from Verify.
func isFetchFailure(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "fetching keys") || strings.Contains(msg, "get keys")
}

// tokenVerifier reads the issuer's discovery document once, as Knative's
// verifier does: the issuer it names is the one tokens must carry (an API
// server's issuer is often not the address it is reached at), and its
// jwks_uri is where the keys are fetched from, again whenever a token
// names a key not yet seen.
func (v *Verifier) tokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if v.lastErr != nil && v.cfg.Now().Sub(v.lastTry) < rediscoverAfter {
		return nil, v.lastErr
	}
	v.lastTry = v.cfg.Now()
	if v.clientErr != nil {
		v.lastErr = fmt.Errorf("%w: %w", ErrUnavailable, v.clientErr)
		return nil, v.lastErr
	}
	d, err := v.discover(ctx)
	if err != nil {
		v.lastErr = fmt.Errorf("%w: OIDC discovery at %s: %w", ErrUnavailable, v.cfg.DiscoveryURL, err)
		return nil, v.lastErr
	}
	// The key set outlives this request: it fetches with a context of its
	// own and the discovery client.
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), v.client), d.JWKSURI)
	v.verifier = oidc.NewVerifier(d.Issuer, keys, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: signingAlgs,
		Now:                  v.cfg.Now,
	})
	v.lastErr = nil
	return v.verifier, nil
}

type discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

func (v *Verifier) discover(ctx context.Context) (discovery, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := strings.TrimSuffix(v.cfg.DiscoveryURL, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return discovery{}, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return discovery{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return discovery{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return discovery{}, fmt.Errorf("%s answered %s: %.200s", u, resp.Status, body)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil {
		return discovery{}, fmt.Errorf("%s: not an OpenID configuration: %w", u, err)
	}
	if d.Issuer == "" {
		return discovery{}, fmt.Errorf("%s names no issuer", u)
	}
	if j, err := url.Parse(d.JWKSURI); err != nil || (j.Scheme != "https" && j.Scheme != "http") || j.Host == "" {
		return discovery{}, fmt.Errorf("%s: jwks_uri %q is not an http(s) URL", u, d.JWKSURI)
	}
	return d, nil
}

// discoveryClient is the client discovery and keys are fetched with. At
// the API server it authenticates as the pod's service account (the
// system:service-account-issuer-discovery role admits every service
// account) and trusts the cluster's CA.
func discoveryClient(cfg Config) (*http.Client, error) {
	u, err := url.Parse(cfg.DiscoveryURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" || u.Hostname() != "kubernetes.default.svc" {
		return &http.Client{Timeout: 10 * time.Second}, nil
	}
	pem, err := os.ReadFile(filepath.Join(cfg.ServiceAccountDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("event senders: the cluster's CA for discovery at %s: %w", cfg.DiscoveryURL, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("event senders: %s holds no PEM certificate", filepath.Join(cfg.ServiceAccountDir, "ca.crt"))
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: bearerFile{path: filepath.Join(cfg.ServiceAccountDir, "token"), next: base},
	}, nil
}

// bearerFile adds the token in path to each request; the kubelet rotates
// the file, so it is read every time (discovery and key fetches are rare).
type bearerFile struct {
	path string
	next http.RoundTripper
}

func (b bearerFile) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := os.ReadFile(b.path)
	if err != nil {
		return nil, fmt.Errorf("service account token: %w", err)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	return b.next.RoundTrip(r)
}
