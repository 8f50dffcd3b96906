package kafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

func TestSecurityFromEnvAndValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" for valid
	}{
		{"none", nil, ""},
		{"scram", map[string]string{"KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, ""},
		{"scram over tls", map[string]string{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "SCRAM_SHA_256", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, ""},
		{"password without mechanism", map[string]string{"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "without KAFKA_SASL_MECHANISM"},
		{"user name alone", map[string]string{"KAFKA_SASL_USERNAME": "u"}, ""},
		{"mechanism without password", map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "u"}, "needs both"},
		{"plain without tls", map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "in the clear"},
		{"unknown mechanism", map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI"}, "unknown SASL mechanism"},
		{"bad bool", map[string]string{"KAFKA_TLS": "yes please"}, "KAFKA_TLS="},
		{"ca without tls", map[string]string{"KAFKA_TLS_CA_FILE": "/ca.pem"}, "KAFKA_TLS is not true"},
		{"cert without key", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CERT_FILE": "/c.pem"}, "needs its key"},
		{"pem and file", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_CERT": "x", "KAFKA_TLS_CA_FILE": "/ca.pem"}, "give one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := kafka.SecurityFromEnv(tc.env).Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// A producer refuses the same settings before dialling anything.
	cfg := kafka.DefaultProducerConfig("127.0.0.1:1")
	cfg.Security = kafka.Security{SASL: kafka.Plain, Username: "u", Password: "p"}
	if _, err := kafka.NewProducer(cfg); err == nil || !strings.Contains(err.Error(), "in the clear") {
		t.Fatalf("NewProducer with PLAIN over plaintext = %v", err)
	}
}

func TestSecurityEnvRoundTrip(t *testing.T) {
	s := kafka.Security{TLS: true, CAFile: "/ca.pem", SASL: kafka.ScramSHA512, Username: "feed-fanout", Password: "pw"}
	if got := kafka.SecurityFromEnv(s.Env()); got.Validate() != nil || got.TLS != s.TLS || got.CAFile != s.CAFile ||
		got.SASL != s.SASL || got.Username != s.Username || got.Password != s.Password {
		t.Fatalf("SecurityFromEnv(Env()) = %+v, want %+v", got, s)
	}
}

// scramBroker is a broker demanding SCRAM-SHA-512 logins with ACLs on:
// "writer" may write content-events only, "reader" read it in group
// "readers".
func scramBroker(t *testing.T, opts ...testrig.KafkaOption) *testrig.KafkaBroker {
	return testrig.Kafka(t, append([]testrig.KafkaOption{
		testrig.KafkaSASL("admin", "admin-secret"), testrig.KafkaACLs(),
		testrig.KafkaUser("writer", "writer-secret", "Write:topic:"+catalog.ContentEvents),
		testrig.KafkaUser("reader", "reader-secret", "Read:topic:"+catalog.ContentEvents, "Read:group:readers"),
	}, opts...)...)
}

func scram(user, password string) kafka.Security {
	return kafka.Security{SASL: kafka.ScramSHA512, Username: user, Password: password}
}

// quickConfig gives up on an unusable broker in a second or two rather
// than the half hour a service's producer keeps trying.
func quickConfig(brokers []string, sec kafka.Security) kafka.ProducerConfig {
	cfg := kafka.DefaultProducerConfig(brokers...)
	cfg.Security = sec
	cfg.RetryMax = 2
	cfg.RetryBackoff = 50 * time.Millisecond
	return cfg
}

func postEvent(t *testing.T, i int) kafka.Record {
	t.Helper()
	e, err := envelope.NewCodec(catalog.Default()).New(benchPost(i))
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Record{Topic: catalog.ContentEvents, Event: e}
}

// readAs reads n records of topic, every partition from the start, logged
// in as sec says.
func readAs(t *testing.T, brokers []string, sec kafka.Security, topic string, n int) []*sarama.ConsumerMessage {
	t.Helper()
	cfg := sarama.NewConfig()
	if err := sec.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	c, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	out := make(chan *sarama.ConsumerMessage, n)
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				out <- m
			}
		}()
	}
	var got []*sarama.ConsumerMessage
	deadline := time.After(30 * time.Second) // a lost record fails instead of hanging
	for len(got) < n {
		select {
		case m := <-out:
			got = append(got, m)
		case <-deadline:
			t.Fatalf("read %d of %d records", len(got), n)
		}
	}
	return got
}

func TestSCRAMProducerWritesAndReaderReads(t *testing.T) {
	k := scramBroker(t)
	p := newProducer(t, quickConfig(k.ListenAddrs(), scram("writer", "writer-secret")))
	recs := []kafka.Record{postEvent(t, 1), postEvent(t, 2), postEvent(t, 3)}
	if err := p.Send(context.Background(), recs...); err != nil {
		t.Fatalf("send as writer: %v", err)
	}
	got := readAs(t, k.ListenAddrs(), scram("reader", "reader-secret"), catalog.ContentEvents, len(recs))
	ids := map[string]bool{}
	for _, m := range got {
		ids[headerMap(m.Headers)["ce_id"]] = true
	}
	for _, r := range recs {
		if !ids[r.Event.ID()] {
			t.Errorf("event %s not read back", r.Event.ID())
		}
	}
}

func TestSCRAMWrongPasswordIsRefused(t *testing.T) {
	k := scramBroker(t)
	_, err := kafka.NewProducer(quickConfig(k.ListenAddrs(), scram("writer", "not-the-password")))
	if err == nil {
		t.Fatal("a producer with a wrong password connected")
	}
	// Kafka answers SASL_AUTHENTICATION_FAILED and closes the connection;
	// kfake only closes it. Either way the error names the login tried.
	if !strings.Contains(err.Error(), "SCRAM-SHA-512 user writer") {
		t.Fatalf("error %q does not say which login was refused", err)
	}
	// No credentials at all is refused too.
	if _, err := kafka.NewProducer(quickConfig(k.ListenAddrs(), kafka.Security{})); err == nil {
		t.Fatal("a producer without credentials connected to a SASL broker")
	}
}

func TestSCRAMUserWithoutWriteACLIsRefused(t *testing.T) {
	k := scramBroker(t)
	p := newProducer(t, quickConfig(k.ListenAddrs(), scram("writer", "writer-secret")))
	// writer may write content-events, not user-events.
	e, err := envelope.NewCodec(catalog.Default()).New(&eventsv1.UserFollowed{
		FollowerId: id.NewUserID().String(), FolloweeId: id.NewUserID().String(), FollowedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Send(context.Background(), kafka.Record{Topic: catalog.UserEvents, Event: e})
	if !errors.Is(err, sarama.ErrTopicAuthorizationFailed) {
		t.Fatalf("send to user-events without Write = %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// reader may write no topic, so, as in Kafka, it cannot even start an
	// idempotent producer (IdempotentWrite, or Write on some topic).
	if _, err := kafka.NewProducer(quickConfig(k.ListenAddrs(), scram("reader", "reader-secret"))); !errors.Is(err, sarama.ErrClusterAuthorizationFailed) {
		t.Fatalf("producer as reader = %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	if n := k.Written(t, catalog.UserEvents) + k.Written(t, catalog.ContentEvents); n != 0 {
		t.Fatalf("%d records written by users without Write", n)
	}
}

func TestTLSProducer(t *testing.T) {
	files := testrig.NewTLSFiles(t)
	k := testrig.Kafka(t, testrig.KafkaTLS(files, false))
	sec := kafka.Security{TLS: true, CAFile: files.CA}
	p := newProducer(t, quickConfig(k.ListenAddrs(), sec))
	if err := p.Send(context.Background(), postEvent(t, 1)); err != nil {
		t.Fatalf("send over TLS: %v", err)
	}
	readAs(t, k.ListenAddrs(), sec, catalog.ContentEvents, 1)

	if _, err := kafka.NewProducer(quickConfig(k.ListenAddrs(), kafka.Security{})); err == nil {
		t.Fatal("a plaintext producer connected to a TLS listener")
	}
	// The broker's certificate is verified: without the CA it is unknown.
	_, err := kafka.NewProducer(quickConfig(k.ListenAddrs(), kafka.Security{TLS: true}))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("TLS without the CA = %v, want a certificate error", err)
	}
}

func TestMutualTLSAndSCRAMOverTLS(t *testing.T) {
	files := testrig.NewTLSFiles(t)
	k := scramBroker(t, testrig.KafkaTLS(files, true))
	sec := scram("writer", "writer-secret")
	sec.TLS, sec.CAFile, sec.CertFile, sec.KeyFile = true, files.CA, files.ClientCert, files.ClientKey
	p := newProducer(t, quickConfig(k.ListenAddrs(), sec))
	if err := p.Send(context.Background(), postEvent(t, 1)); err != nil {
		t.Fatalf("send over mTLS with SCRAM: %v", err)
	}
	if n := k.Written(t, catalog.ContentEvents); n != 1 {
		t.Fatalf("%d records written, want 1", n)
	}
	// Without a client certificate the handshake fails.
	noCert := sec
	noCert.CertFile, noCert.KeyFile = "", ""
	if _, err := kafka.NewProducer(quickConfig(k.ListenAddrs(), noCert)); err == nil {
		t.Fatal("a producer without a client certificate connected to an mTLS listener")
	}
}
