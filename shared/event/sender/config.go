package sender

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nova-social/nova/shared/envconf"
)

// Environment variables a function's sender check reads (func.yaml
// run.envs; nova-config and nova-event-senders in eventing/ hold them).
const (
	// EnvAuth is "oidc" (the default) or "off".
	EnvAuth = "NOVA_EVENT_AUTH"
	// EnvDiscoveryURL is the OIDC issuer's base URL, whose
	// /.well-known/openid-configuration names the JWKS: Knative's
	// oidc-discovery-base-url.
	EnvDiscoveryURL = "NOVA_OIDC_DISCOVERY_URL"
	// EnvAudience overrides the audience tokens must carry.
	EnvAudience = "NOVA_EVENT_AUDIENCE"
	// EnvSenders lists who may send: "KafkaSource/feed-fanout,…", the
	// function's EventPolicy spec.from mirrored (nova-event-senders).
	EnvSenders = "NOVA_EVENT_SENDERS"
	// EnvNamespace names the function's namespace; without it the service
	// account's namespace file says (EnvServiceAccountDir).
	EnvNamespace = "NOVA_NAMESPACE"
	// EnvServiceAccountDir is where the kubelet mounts the pod's service
	// account (namespace, token, ca.crt).
	EnvServiceAccountDir = "NOVA_SERVICEACCOUNT_DIR"
)

// Mode says whether senders are authenticated.
type Mode string

const (
	ModeOIDC Mode = "oidc"
	// ModeOff admits every request, for clusters without Knative's
	// authentication-oidc feature. A function so configured says so loudly.
	ModeOff Mode = "off"
)

// Defaults.
const (
	// DefaultDiscoveryURL is Knative's default: the cluster's API server.
	DefaultDiscoveryURL = "https://kubernetes.default.svc"
	// DefaultServiceAccountDir is where Kubernetes mounts a pod's service
	// account.
	DefaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	// AudiencePrefix makes a function's audience: "nova/<function>", what
	// the KafkaSources' spec.sink.audience and deadLetterSink.audience say.
	AudiencePrefix = "nova/"
)

// Config configures a function's sender check.
type Config struct {
	Mode Mode
	// DiscoveryURL is the issuer's base URL (Knative's
	// oidc-discovery-base-url). When it is the API server's in-cluster
	// address, discovery authenticates with the pod's service account
	// token and trusts the cluster's CA, as Knative's own verifier does.
	DiscoveryURL string
	// Audience is what a token's aud must include.
	Audience string
	// Namespace is the function's; a sender's subject must be in it.
	Namespace string
	// Senders are the identities admitted.
	Senders []Ref
	// SameNamespace admits, instead, any service account of Namespace:
	// Knative's authorization-default-mode allow-same-namespace, for an
	// eventing resource no EventPolicy applies to.
	SameNamespace bool
	// ServiceAccountDir holds the pod's token and CA for discovery at the
	// API server.
	ServiceAccountDir string
	// HTTPClient fetches discovery and keys; default: for the API server,
	// one with the service account's CA and token, otherwise a client with
	// the system roots. Either is bounded by a 10 s timeout.
	HTTPClient *http.Client
	// CacheSize bounds the tokens remembered as verified. Default 1024;
	// negative remembers none.
	CacheSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// ConfigFrom reads the check of function from env.
func ConfigFrom(env map[string]string, function string) (Config, error) {
	e := envconf.New(env)
	c := Config{
		Mode:              Mode(strings.ToLower(e.String(EnvAuth, string(ModeOIDC)))),
		DiscoveryURL:      e.String(EnvDiscoveryURL, DefaultDiscoveryURL),
		Audience:          e.String(EnvAudience, AudiencePrefix+function),
		Namespace:         e.String(EnvNamespace, ""),
		ServiceAccountDir: e.String(EnvServiceAccountDir, DefaultServiceAccountDir),
	}
	var errs []error
	if err := e.Err(); err != nil {
		errs = append(errs, err)
	}
	if c.Mode != ModeOff {
		for _, s := range e.Strings(EnvSenders, ",", nil) {
			r, err := ParseRef(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvSenders, err))
				continue
			}
			c.Senders = append(c.Senders, r)
		}
		if c.Namespace == "" {
			ns, err := os.ReadFile(filepath.Join(c.ServiceAccountDir, "namespace"))
			if err != nil {
				errs = append(errs, fmt.Errorf("the function's namespace: %s is unset and the service account's namespace file cannot be read: %w", EnvNamespace, err))
			}
			c.Namespace = strings.TrimSpace(string(ns))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("event senders: %w", err)
	}
	return c.Defaults(), nil
}

// Defaults fills in what c leaves out.
func (c Config) Defaults() Config {
	if c.Mode == "" {
		c.Mode = ModeOIDC
	}
	if c.DiscoveryURL == "" {
		c.DiscoveryURL = DefaultDiscoveryURL
	}
	if c.ServiceAccountDir == "" {
		c.ServiceAccountDir = DefaultServiceAccountDir
	}
	if c.CacheSize == 0 {
		c.CacheSize = 1024
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports a configuration the check cannot run with.
func (c Config) Validate() error {
	var errs []error
	switch c.Mode {
	case ModeOff:
		return nil
	case ModeOIDC:
	default:
		errs = append(errs, fmt.Errorf("%s %q: want %q or %q", EnvAuth, c.Mode, ModeOIDC, ModeOff))
	}
	if u, err := url.Parse(c.DiscoveryURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("%s %q is not an http(s) URL", EnvDiscoveryURL, c.DiscoveryURL))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("audience is empty"))
	}
	if !dnsName.MatchString(c.Namespace) {
		errs = append(errs, fmt.Errorf("namespace %q is not a Kubernetes namespace", c.Namespace))
	}
	if len(c.Senders) == 0 && !c.SameNamespace {
		errs = append(errs, fmt.Errorf("%s names no sender: every event would be refused (set %s=off to run without sender authentication)", EnvSenders, EnvAuth))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("event senders: %w", err)
	}
	return nil
}
