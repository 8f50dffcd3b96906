package deploycheck

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/mail"
	"github.com/nova-social/nova/shared/mail/sink"
	"github.com/nova-social/nova/shared/redisdb"
)

// Local is what the check runs in place of the cluster's services.
type Local struct {
	DatabaseURL  string
	RedisURL     string
	KafkaBrokers []string
	// S3Endpoint (host:port) serves S3Bucket over plain HTTP.
	S3Endpoint string
	S3Bucket   string
	// SMTPAddr (host:port) is Mail's address: the relay nova-api sends
	// sign-up mail through, in the clear on the loopback, with the
	// nova-smtp Secret's login.
	SMTPAddr string
	Mail     *sink.Sink
	// APIURL is nova-api's address once it is ready ("" before).
	APIURL string
	// Issuer stands in for the cluster's OIDC issuer (the API server):
	// the functions fetch its keys at IssuerURL, the dispatcher's tokens
	// are its.
	Issuer    *system.LocalIssuer
	IssuerURL string
	// ServiceAccountDir is where the kubelet would mount the pod's service
	// account (mountServiceAccount).
	ServiceAccountDir string
	// Kafka are the local broker's logins: its TLS, the KafkaUsers'
	// passwords, the superuser the check's own clients use.
	Kafka *system.KafkaLogins
}

// ErrNotYet marks a local value that does not exist yet: nova-api's
// address, asked for by nova-api itself or before it is ready.
var ErrNotYet = errors.New("not available yet")

// Override points one ConfigMap key, which names a cluster service, at the
// local one.
type Override struct {
	ConfigMap, Key string
	Value          func(Local) (string, error)
}

// Overrides are the ConfigMap values replaced by local servers. Only keys
// the ConfigMap has may be listed (the check fails naming one it lacks), so
// the list cannot drift from eventing/: a key added there that names a
// service joins here, one line each.
var Overrides = []Override{
	{"nova-config", "DATABASE_URL", func(l Local) (string, error) { return l.DatabaseURL, nil }},
	{"nova-config", "REDIS_URL", func(l Local) (string, error) { return l.RedisURL, nil }},
	{"nova-config", "KAFKA_BROKERS", func(l Local) (string, error) { return strings.Join(l.KafkaBrokers, ","), nil }},
	{"nova-config", "NOVA_JWKS_URL", jwksURL},
	{"nova-config", "NOVA_API_URL", func(l Local) (string, error) {
		if l.APIURL == "" {
			return "", fmt.Errorf("nova-api: %w", ErrNotYet)
		}
		return l.APIURL, nil
	}},
	{"nova-config", "NOVA_OIDC_DISCOVERY_URL", func(l Local) (string, error) {
		if l.IssuerURL == "" {
			return "", fmt.Errorf("the OIDC issuer: %w", ErrNotYet)
		}
		return l.IssuerURL, nil
	}},
	{"nova-config", "S3_ENDPOINT", func(l Local) (string, error) { return l.S3Endpoint, nil }},
	{"nova-config", "S3_USE_SSL", func(Local) (string, error) { return "false", nil }},
	{"nova-config", "SMTP_ADDR", func(l Local) (string, error) { return l.SMTPAddr, nil }},
	{"nova-config", "SMTP_TLS", func(Local) (string, error) { return string(mail.NoTLS), nil }},
}

// jwksURL is nova-api's JWKS endpoint, for functions that verify its tokens.
func jwksURL(l Local) (string, error) {
	if l.APIURL == "" {
		return "", fmt.Errorf("nova-api's address: %w", ErrNotYet)
	}
	return l.APIURL + "/v1/.well-known/jwks.json", nil
}

// Secret is a Secret key the functions reference, with a test value.
type Secret struct {
	Name, Key string
	// Make returns a fresh value, made once per check and given to every
	// function that references the key, as one Secret would be.
	Make func() (string, error)
}

// Secrets are the Secret keys the check knows; a function referencing
// another fails the check, naming it, as kn func deploy fails on a Secret
// the namespace lacks.
var Secrets = []Secret{
	{"nova-jwt", auth.EnvPrivateKey, signingKeyPEM},
	// The local PostgreSQL trusts its clients: the password reaches the
	// functions as a cluster's would, and is not checked.
	{"nova-db", "PGPASSWORD", randomValue},
	// The check makes this ACL user, with Nova's rights only, on the local
	// Redis before it starts the functions, as an operator makes it on the
	// cluster's Redis.
	{"nova-redis", redisdb.EnvUsername, func() (string, error) {
		v, err := randomValue()
		return "nova-check-" + v[:8], err
	}},
	{"nova-redis", redisdb.EnvPassword, randomValue},
	// The local S3 server takes any keys.
	{"nova-s3", "S3_ACCESS_KEY", randomValue},
	{"nova-s3", "S3_SECRET_KEY", randomValue},
	// 32 hex characters: the shortest media URL key nova-api takes.
	{"nova-media", "MEDIA_URL_SECRET", randomValue},
	// The check's mail sink takes this login and no other, as the
	// cluster's relay takes the Secret's.
	{"nova-smtp", mail.EnvUsername, func() (string, error) {
		v, err := randomValue()
		return "nova-check-" + v[:8], err
	}},
	{"nova-smtp", mail.EnvPassword, randomValue},
}

// randomValue is a fresh random token, as a generated Secret value would be.
func randomValue() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// signingKeyPEM is a fresh Ed25519 key in PKCS#8 PEM, nova-api's token key.
func signingKeyPEM() (string, error) {
	k, err := auth.GenerateKey()
	if err != nil {
		return "", err
	}
	pem, err := k.MarshalPrivatePEM()
	return string(pem), err
}

// checkOverrides fails on an override whose ConfigMap or key is not in
// the manifests.
func checkOverrides(configMaps map[string]map[string]string) error {
	var errs []error
	for _, o := range Overrides {
		cm, ok := configMaps[o.ConfigMap]
		if !ok {
			errs = append(errs, fmt.Errorf("override of %s: there is no ConfigMap %s in the manifests", o.Key, o.ConfigMap))
			continue
		}
		if _, ok := cm[o.Key]; !ok {
			errs = append(errs, fmt.Errorf("override of %s: ConfigMap %s has no key %s (drop the override or add the key)", o.Key, o.ConfigMap, o.Key))
		}
	}
	return errors.Join(errs...)
}
