// Package issuer is the cluster's part of event-sender authentication,
// for where there is no cluster: an OIDC issuer that signs tokens for a
// sender's service account and a sink's audience, as the Kubernetes API
// server's TokenRequest does for Knative's dispatchers, and serves the
// discovery document and JWKS a function verifies them with. `nova run`'s
// dispatcher and the tests use it; in a cluster the API server is the
// issuer and nothing here runs.
package issuer

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Paths the issuer serves, the API server's.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/openid/v1/jwks"
)

// DefaultTTL is how long a token lives: Knative asks for an hour; the
// local issuer gives less so that expiry and renewal happen in a run.
const DefaultTTL = 10 * time.Minute

// Issuer signs service-account tokens with an RSA key of its own (RS256,
// the API server's default).
type Issuer struct {
	url    string
	kid    string
	key    *rsa.PrivateKey
	signer jose.Signer
	jwks   []byte
	now    func() time.Time
}

// New returns an issuer whose tokens name url as their issuer (iss) and
// whose discovery document, served by Handler, is under url.
func New(url string) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	}
	return WithKey(url, key)
}

// WithKey is New with a given key.
func WithKey(url string, key *rsa.PrivateKey) (*Issuer, error) {
	url = strings.TrimSuffix(url, "/")
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("issuer URL %q is not http(s)", url)
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	if err != nil {
		return nil, err
	}
	return &Issuer{url: url, kid: pub.KeyID, key: key, signer: signer, jwks: jwks, now: time.Now}, nil
}

// URL is the issuer (iss), also the discovery base URL.
func (i *Issuer) URL() string { return i.url }

// Handler serves the discovery document and the JWKS.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	doc, _ := json.Marshal(map[string]any{
		"issuer":                                i.url,
		"jwks_uri":                              i.url + JWKSPath,
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
	})
	serve := func(body []byte, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", ctype)
			_, _ = w.Write(body)
		}
	}
	mux.Handle(DiscoveryPath, serve(doc, "application/json"))
	mux.Handle(JWKSPath, serve(i.jwks, "application/jwk-set+json"))
	return mux
}

// Claims of a service-account token.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	// Kubernetes names the namespace and service account again here.
	Kubernetes *KubernetesClaims `json:"kubernetes.io,omitempty"`
}

// KubernetesClaims is a token's kubernetes.io claim.
type KubernetesClaims struct {
	Namespace      string `json:"namespace"`
	ServiceAccount struct {
		Name string `json:"name"`
	} `json:"serviceaccount"`
}

// Mint signs a token for service account sa of namespace ns with audience
// aud, valid for ttl.
func (i *Issuer) Mint(ns, sa, aud string, ttl time.Duration) (string, time.Time, error) {
	now := i.now()
	exp := now.Add(ttl)
	k := &KubernetesClaims{Namespace: ns}
	k.ServiceAccount.Name = sa
	return i.Sign(Claims{
		Issuer: i.url, Subject: "system:serviceaccount:" + ns + ":" + sa, Audience: []string{aud},
		Expiry: exp.Unix(), IssuedAt: now.Unix(), NotBefore: now.Unix(), Kubernetes: k,
	}, exp)
}

// Sign signs any claims with the issuer's key, for tests that forge the
// cases Mint never makes (another issuer, an expired token).
func (i *Issuer) Sign(c Claims, exp time.Time) (string, time.Time, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, err
	}
	sig, err := i.signer.Sign(payload)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign: %w", err)
	}
	tok, err := sig.CompactSerialize()
	return tok, exp, err
}

// Tokens hands out tokens per service account and audience, minting a new
// one when less than a fifth of the last one's life is left, as Knative's
// token provider caches TokenRequest answers.
type Tokens struct {
	issuer *Issuer
	ttl    time.Duration

	mu    sync.Mutex
	cache map[[3]string]token
}

type token struct {
	raw     string
	renewAt time.Time
}

// NewTokens returns a token source minting with issuer (ttl 0: DefaultTTL).
func NewTokens(i *Issuer, ttl time.Duration) *Tokens {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Tokens{issuer: i, ttl: ttl, cache: map[[3]string]token{}}
}

// Token is a valid token of service account sa in namespace ns for aud.
func (t *Tokens) Token(_ context.Context, ns, sa, aud string) (string, error) {
	if ns == "" || sa == "" || aud == "" {
		return "", errors.New("token: namespace, service account and audience are required")
	}
	key := [3]string{ns, sa, aud}
	now := t.issuer.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.cache[key]; ok && now.Before(c.renewAt) {
		return c.raw, nil
	}
	raw, exp, err := t.issuer.Mint(ns, sa, aud, t.ttl)
	if err != nil {
		return "", err
	}
	t.cache[key] = token{raw: raw, renewAt: exp.Add(-t.ttl / 5)}
	return raw, nil
}
