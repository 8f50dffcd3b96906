package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/shared/event/kafka"
)

// The running system's Kafka demands TLS and a SCRAM login, with ACLs, as a
// cluster does; the tests' own clients log in as its superuser, as Nova's
// tools do (the functions each as their KafkaUser).

// producerConfig is Nova's producer logged in as the superuser.
func (r *rig) producerConfig() kafka.ProducerConfig {
	cfg := kafka.DefaultProducerConfig(r.sys.Brokers()...)
	cfg.Security = r.sys.KafkaSecurity()
	return cfg
}

// kafkaClient is a franz-go client logged in as the superuser.
func (r *rig) kafkaClient(opts ...kgo.Opt) (*kgo.Client, error) {
	return broker.NewClient(r.sys.Brokers(), r.sys.KafkaSecurity(), opts...)
}

// caFile writes the broker's CA certificate for tools that read a file.
func (r *rig) caFile(t testing.TB) string {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "kafka-ca.crt")
	if err := os.WriteFile(ca, []byte(r.sys.KafkaSecurity().CAPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// toolArgs are the nova tools' Kafka flags for the superuser; its password
// goes through KAFKA_SASL_PASSWORD, as the tools take it.
func (r *rig) toolArgs(t *testing.T) []string {
	t.Helper()
	sec := r.sys.KafkaSecurity()
	t.Setenv(kafka.EnvSASLPassword, sec.Password)
	return []string{"--kafka-brokers", strings.Join(r.sys.Brokers(), ","), "--kafka-tls", "--kafka-tls-ca-file", r.caFile(t),
		"--kafka-sasl-mechanism", string(sec.SASL), "--kafka-sasl-username", sec.Username}
}

// kcatArgs are kcat's (librdkafka's) settings for the superuser.
func (r *rig) kcatArgs(t *testing.T) []string {
	t.Helper()
	sec := r.sys.KafkaSecurity()
	if sec.SASL == kafka.NoSASL {
		return []string{"-b", strings.Join(r.sys.Brokers(), ",")}
	}
	return []string{"-b", strings.Join(r.sys.Brokers(), ","), "-X", "security.protocol=SASL_SSL",
		"-X", "sasl.mechanisms=" + string(sec.SASL), "-X", "sasl.username=" + sec.Username,
		"-X", "sasl.password=" + sec.Password, "-X", "ssl.ca.location=" + r.caFile(t)}
}
