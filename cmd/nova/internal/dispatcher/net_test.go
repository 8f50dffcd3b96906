package dispatcher

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/testrig"
)

// A KafkaSource with spec.net logs in with the Secrets it names, over TLS,
// as its own user, whose ACLs allow reading its topic in its group and
// nothing more; the same source with a wrong password does not start.
func TestSourceLogsInWithItsSecrets(t *testing.T) {
	files := testrig.NewTLSFiles(t)
	const topic, group = "content-events", "net-group"
	c := testrig.Kafka(t, testrig.KafkaTLS(files, false), testrig.KafkaSASL("admin", "admin-secret"), testrig.KafkaACLs(),
		testrig.KafkaUser("reader", "reader-secret", "Read:topic:"+topic, "Read:group:"+group))
	brokers := c.ListenAddrs()
	cl, err := broker.NewClient(brokers, c.Security(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	produce(t, cl, plainRecords(topic, 6, 6, 0)...)
	ca, err := readFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]map[string]string{
		"sasl":    {"user": "reader", "type": "SCRAM-SHA-512"},
		"reader":  {"password": "reader-secret"},
		"cluster": {"ca.crt": ca},
	}
	net := source.Net{SASL: true, TLS: true,
		SASLUser: source.SecretKeyRef{Name: "sasl", Key: "user"}, SASLType: source.SecretKeyRef{Name: "sasl", Key: "type"},
		SASLPassword: source.SecretKeyRef{Name: "reader", Key: "password"}, CACert: source.SecretKeyRef{Name: "cluster", Key: "ca.crt"}}
	lookup := func(ns string, ref source.SecretKeyRef) (string, error) {
		if ns != "nova" {
			t.Errorf("Secret looked up in namespace %q, want the source's", ns)
		}
		if v, ok := secrets[ref.Name][ref.Key]; ok {
			return v, nil
		}
		return "", errors.New("no such Secret key")
	}
	s := newSink(t, func(hit, int) (int, string) { return http.StatusAccepted, "" })
	src := testSource(topic, s.URL(), func(s *source.KafkaSource) { s.Net, s.ConsumerGroup = net, group })

	cfg := testConfig(brokers)
	if _, err := New(context.Background(), cfg, []source.KafkaSource{src}, nil); err == nil ||
		!strings.Contains(err.Error(), "Secrets") {
		t.Fatalf("a source with spec.net and no Secrets: %v", err)
	}

	cfg.Secrets = lookup
	run := start(t, cfg, src)
	waitFor(t, "every record delivered", func() bool {
		return testutil.ToFloat64(run.d.metrics.delivered.WithLabelValues(src.Ref())) == 6
	})
	run.stop()

	secrets["reader"]["password"] = "wrong"
	cfg.Registry = nil
	d, err := New(context.Background(), cfg, []source.KafkaSource{src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "SCRAM-SHA-512 user reader") {
		t.Fatalf("Run with a wrong password = %v, want a refused login naming the user", err)
	}
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
