package system

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/shared/event/kafka"
)

// KafkaAdmin is the embedded broker's superuser, the login of Nova's own
// tools; it passes every ACL, as a cluster operator's admin user does.
const KafkaAdmin = "nova-admin"

// ClusterCASecret is the Secret (and key) holding the Kafka cluster's CA
// certificate, as Strimzi names it for the cluster nova-kafka.
const (
	ClusterCASecret = "nova-kafka-cluster-ca-cert" //nolint:gosec // a Secret's name, not a credential
	ClusterCAKey    = "ca.crt"
)

// KafkaLogins is what a cluster's Strimzi operators would make of the
// manifests' KafkaUsers, made for one run of the embedded broker: a fresh
// password per user, a CA and the broker's certificate, the Secrets the
// functions and KafkaSources read them from, and the broker's Auth that
// enforces the users' ACLs.
type KafkaLogins struct {
	// Auth is the embedded broker's: TLS, SCRAM-SHA-512, ACLs on.
	Auth *broker.Auth
	// Admin logs in as the superuser over TLS.
	Admin kafka.Security
	// Secrets by name, then key: each KafkaUser's (key password, as
	// Strimzi writes it), the cluster CA's, and the manifests' own.
	Secrets map[string]map[string]string
	// Env are the nova-config settings that switch the functions to TLS
	// and SCRAM (KAFKA_TLS, KAFKA_SASL_MECHANISM).
	Env map[string]string
}

// NewKafkaLogins makes the logins of users, with manifestSecrets (the
// Secrets the manifests hold, such as the KafkaSources' user names) added
// to the Secrets.
func NewKafkaLogins(users []manifests.KafkaUser, manifestSecrets map[string]map[string]string) (*KafkaLogins, error) {
	ltls, err := broker.NewLocalTLS()
	if err != nil {
		return nil, err
	}
	adminPass, err := randomPassword()
	if err != nil {
		return nil, err
	}
	l := &KafkaLogins{
		Auth: &broker.Auth{Superuser: broker.User{Name: KafkaAdmin, Password: adminPass}, ACLs: true, TLS: ltls.Server},
		Admin: kafka.Security{TLS: true, CAPEM: ltls.CAPEM, SASL: kafka.ScramSHA512,
			Username: KafkaAdmin, Password: adminPass},
		Secrets: map[string]map[string]string{ClusterCASecret: {ClusterCAKey: ltls.CAPEM}},
		Env:     map[string]string{kafka.EnvTLS: "true", kafka.EnvSASLMech: string(kafka.ScramSHA512)},
	}
	for name, data := range manifestSecrets {
		l.Secrets[name] = data
	}
	for _, u := range users {
		pass, err := randomPassword()
		if err != nil {
			return nil, err
		}
		l.Auth.Users = append(l.Auth.Users, broker.User{Name: u.Name, Password: pass, ACLs: u.ACLs})
		l.Secrets[u.Name] = map[string]string{"password": pass}
	}
	return l, l.Auth.Validate()
}

// Secret reads one key of the Secrets.
func (l *KafkaLogins) Secret(name, key string) (string, error) {
	if v, ok := l.Secrets[name][key]; ok {
		return v, nil
	}
	return "", fmt.Errorf("no Secret %s with key %s here (a KafkaUser's Secret is named after it; the others are in eventing/)", name, key)
}

// WriteClientEnv writes the superuser's login as KAFKA_* variables (the
// CA to a file beside it), for Nova's tools: `set -a; . FILE; set +a`.
// Both files are readable by their owner only.
func (l *KafkaLogins) WriteClientEnv(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	ca := filepath.Join(dir, "kafka-ca.crt")
	if err := os.WriteFile(ca, []byte(l.Admin.CAPEM), 0o600); err != nil {
		return "", err
	}
	sec := l.Admin
	sec.CAPEM, sec.CAFile = "", ca
	var b strings.Builder
	b.WriteString("# The embedded Kafka's superuser, for nova tail, lag, send, replay; made by nova run.\n")
	for _, k := range []string{kafka.EnvTLS, kafka.EnvTLSCAFile, kafka.EnvSASLMech, kafka.EnvSASLUsername, kafka.EnvSASLPassword} {
		fmt.Fprintf(&b, "%s=%s\n", k, sec.Env()[k])
	}
	file := filepath.Join(dir, "kafka-client.env")
	return file, os.WriteFile(file, []byte(b.String()), 0o600)
}

func randomPassword() (string, error) { return randomHex(18) }

// randomKey is a key of 32 random bytes, hex-encoded, as
// `openssl rand -hex 32` makes the cluster's.
func randomKey() (string, error) { return randomHex(32) }

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// unmanagedLogins are the Kafka Secrets the functions' func.yaml reference
// when nova run makes no logins: for a broker without them (empty values,
// nova-config's switches being turned off too), or an existing cluster,
// where every function takes the CA and password of sec (KAFKA_TLS_CA_CERT,
// KAFKA_SASL_PASSWORD of the environment): one login for all, since a
// developer's machine holds no per-user passwords.
func unmanagedLogins(m *manifests.Set, sec kafka.Security) map[string]map[string]string {
	out := map[string]map[string]string{ClusterCASecret: {ClusterCAKey: sec.CAPEM}}
	for name, data := range m.Secrets {
		out[name] = data
	}
	for _, u := range m.KafkaUsers {
		out[u.Name] = map[string]string{"password": sec.Password}
	}
	return out
}
