package system_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/cli"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/testrig"
)

// A KafkaSource whose sink answers 404 for everything (nova-api has no such
// path), so every event ends at the dead-letter function after one retry.
const failingSource = `apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata:
  name: nowhere
  namespace: nova
spec:
  bootstrapServers: [kafka.invalid:9092]
  # It logs in as its own KafkaUser (nowhereUser), as every source does.
  net:
    sasl:
      enable: true
      user: {secretKeyRef: {name: nowhere-sasl, key: user}}
      password: {secretKeyRef: {name: nova-nowhere, key: password}}
      type: {secretKeyRef: {name: nowhere-sasl, key: type}}
    tls:
      enable: true
      caCert: {secretKeyRef: {name: nova-kafka-cluster-ca-cert, key: ca.crt}}
  topics: [user-events]
  consumerGroup: nowhere-group
  initialOffset: earliest
  ordering: ordered
  delivery:
    retry: 1
    backoffPolicy: linear
    backoffDelay: PT0.01S
    timeout: PT5S
    deadLetterSink:
      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter}
      audience: nova/dead-letter
  sink:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: nova-api}
    uri: /no/such/endpoint
`

// nowherePolicies admits the nowhere source, alone, to every event
// function, and says so in nova-event-senders as the functions read it.
func nowherePolicies(t *testing.T, root string) string {
	t.Helper()
	set, err := manifests.Load(filepath.Join(root, "eventing"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nova-event-senders\ndata:\n")
	for fn := range set.ConfigMaps[manifests.SendersConfigMap] {
		fmt.Fprintf(&b, "  %s: KafkaSource/nowhere\n", fn)
	}
	for fn := range set.ConfigMaps[manifests.SendersConfigMap] {
		fmt.Fprintf(&b, "---\napiVersion: eventing.knative.dev/v1alpha1\nkind: EventPolicy\nmetadata:\n  name: %s\n  namespace: nova\n"+
			"spec:\n  to:\n    - ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: %s}\n"+
			"  from:\n    - ref: {apiVersion: sources.knative.dev/v1beta1, kind: KafkaSource, name: nowhere}\n", fn, fn)
	}
	return b.String()
}

// The failing source's Kafka login: read user-events in its group, no more.
const nowhereUser = `apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata:
  name: nova-nowhere
  labels: {strimzi.io/cluster: nova-kafka}
spec:
  authentication: {type: scram-sha-512}
  authorization:
    type: simple
    acls:
      - resource: {type: topic, name: user-events, patternType: literal}
        operations: [Read]
      - resource: {type: group, name: nowhere-group, patternType: literal}
        operations: [Read]
---
apiVersion: v1
kind: Secret
metadata:
  name: nowhere-sasl
stringData:
  user: nova-nowhere
  type: SCRAM-SHA-512
`

type fixture struct {
	cfg      system.Config
	logs     *bytes.Buffer
	eventDir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	eventing := t.TempDir()
	if err := os.WriteFile(filepath.Join(eventing, "nowhere.yaml"), []byte(failingSource), 0o644); err != nil {
		t.Fatal(err)
	}
	// The real ConfigMaps, so func.yaml references resolve as in make run.
	cm, err := os.ReadFile(filepath.Join(root, "eventing", "config", "nova-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(eventing, "nova-config.yaml"), cm, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(eventing, "policies.yaml"), []byte(nowherePolicies(t, root)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The real KafkaUsers: the functions log in as them.
	users, err := filepath.Glob(filepath.Join(root, "eventing", "users", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(eventing, "nowhere-user.yaml"), []byte(nowhereUser), 0o644); err != nil {
		t.Fatal(err)
	}
	kust := "resources:\n  - nova-config.yaml\n  - nowhere.yaml\n  - nowhere-user.yaml\n  - policies.yaml\n"
	for _, u := range users {
		if filepath.Base(u) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(eventing, filepath.Base(u)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		kust += "  - " + filepath.Base(u) + "\n"
	}
	// What nova run reads is a kustomization, as kubectl apply -k.
	if err := os.WriteFile(filepath.Join(eventing, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	return &fixture{
		logs:     logs,
		eventDir: eventing,
		cfg: system.Config{
			Root:        root,
			Eventing:    eventing,
			PortBase:    0, // free ports
			MetricsAddr: "127.0.0.1:0",
			Kafka:       broker.Config{DataDir: t.TempDir()},
			DatabaseURL: testrig.PostgresURL(t),
			RedisURL:    testrig.RedisAdminURL(t),
			Environ:     map[string]string{},
			Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		},
	}
}

func (f *fixture) start(t *testing.T) *system.System {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := system.Start(ctx, f.cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return s
}

func stop(t *testing.T, s *system.System) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// produce writes a plain record, as the design document's console-producer
// test does.
// produce writes a plain record as Nova's tools do, logged in as the
// system's superuser.
func produce(t *testing.T, s *system.System, topic, key, value string) {
	t.Helper()
	cl, err := broker.NewClient(s.Brokers(), s.KafkaSecurity())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value)}
	if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// waitDeadLetters polls the store until it holds n entries of topic.
func waitDeadLetters(t *testing.T, dsn, topic string, n int) []store.Entry {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := cli.DeadLetters(context.Background(), dsn, store.Filter{Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters of %s, want %d", len(got), topic, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunDeadLettersAndResumes(t *testing.T) {
	f := newFixture(t)
	s := f.start(t)

	// Every function is up and serving func-go's health endpoints.
	for _, name := range []string{"nova-api", "dead-letter"} {
		u, ok := s.FunctionURL(name)
		if !ok {
			t.Fatalf("%s not hosted", name)
		}
		resp, err := http.Get(u + "/health/readiness")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s readiness: %v %v", name, resp, err)
		}
		resp.Body.Close()
	}
	var status bytes.Buffer
	s.WriteStatus(&status)
	for _, want := range []string{"kafka", s.Brokers()[0], "dead-letter", "nova-api", s.MetricsURL(), "nowhere"} {
		if !strings.Contains(status.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, status.String())
		}
	}

	// A plain record the sink refuses reaches the dead-letter store with
	// where it came from and why it failed.
	produce(t, s, catalog.UserEvents, "user456", `{"user_id":"user456"}`)
	got := waitDeadLetters(t, f.cfg.DatabaseURL, catalog.UserEvents, 1)
	dl := got[0]
	if dl.Type != envelope.KafkaEventType || dl.ErrorCode != http.StatusNotFound || dl.Partition == nil || dl.Offset == nil ||
		!strings.HasSuffix(dl.ErrorDest, "/no/such/endpoint") || string(dl.Event.Data()) != `{"user_id":"user456"}` {
		t.Fatalf("dead letter = %+v", dl)
	}

	// A CloudEvent posted straight to the dead-letter function (as nova
	// send --to does it) carries no dispatcher's token: it is refused and
	// nothing is stored, so nothing can be planted for replay.
	dlURL, _ := s.FunctionURL("dead-letter")
	e, _, err := cli.BuildEvent(envelope.NewCodec(catalog.Default()), "com.nova.identity.user.registered",
		[]byte(`{"user_id":"0193a1b2-0001-7000-8000-0000000000aa","username":"posted"}`))
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension(delivery.ExtKafkaTopic, "posted")
	if code, err := cli.Post(context.Background(), dlURL, e); code != http.StatusUnauthorized || err == nil {
		t.Fatalf("unauthenticated post to dead-letter: %d %v, want 401", code, err)
	}
	if all := waitDeadLetters(t, f.cfg.DatabaseURL, "", 1); len(all) != 1 {
		t.Fatalf("dead letters after the refused post: %+v", all)
	}

	// Metrics are served where the status says.
	resp, err := http.Get(s.MetricsURL())
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %v %v", resp, err)
	}
	resp.Body.Close()

	stop(t, s)

	// Started again on the same data: the record is still in Kafka, the
	// group resumes after it (it is not dead-lettered again), and a new
	// record flows.
	s = f.start(t)
	defer stop(t, s)
	produce(t, s, catalog.UserEvents, "user789", `{"user_id":"user789"}`)
	got = waitDeadLetters(t, f.cfg.DatabaseURL, catalog.UserEvents, 2)
	if len(got) != 2 || got[0].Event.Data() == nil || string(got[0].Event.Data()) != `{"user_id":"user789"}` {
		t.Fatalf("after restart: %+v", got)
	}
	rows, err := broker.Lag(context.Background(), s.Brokers(), s.KafkaSecurity(), "nowhere-group")
	if err != nil {
		t.Fatal(err)
	}
	var ends int64
	for _, r := range rows {
		ends += r.End
	}
	if ends != 2 {
		t.Errorf("user-events holds %d records after the restart, want 2 (the first one kept)", ends)
	}
}

func TestPostedEventDecodes(t *testing.T) {
	// BuildEvent gives the typed event of the contract from JSON with the
	// design document's short enum names.
	e, et, err := cli.BuildEvent(envelope.NewCodec(catalog.Default()), "com.nova.content.post.created",
		[]byte(`{"post_id":"0193a1b2-0002-7000-8000-000000000001","user_id":"0193a1b2-0001-7000-8000-000000000001","content":"hi","type":"IMAGE","visibility":"PUBLIC"}`))
	if err != nil {
		t.Fatal(err)
	}
	if et.Topic != catalog.ContentEvents || e.Extensions()[envelope.PartitionKeyExtension] != "0193a1b2-0001-7000-8000-000000000001" || e.Subject() != "0193a1b2-0002-7000-8000-000000000001" {
		t.Fatalf("event %s on %s", e, et.Topic)
	}
	d, err := envelope.NewCodec(catalog.Default()).Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if pc := d.Message.(*eventsv1.PostCreated); pc.GetType() != eventsv1.PostType_POST_TYPE_IMAGE {
		t.Fatalf("type %v", pc.GetType())
	}
}

// The embedded broker restarted on its data folder comes back on the same
// address with its records and group offsets, and the running dispatcher
// carries on; a function stopped and started again answers on the same
// address, so its sink URL stays valid.
func TestRestartKafkaAndFunction(t *testing.T) {
	f := newFixture(t)
	s := f.start(t)
	defer stop(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	produce(t, s, catalog.UserEvents, "before", `{"user_id":"before"}`)
	waitDeadLetters(t, f.cfg.DatabaseURL, catalog.UserEvents, 1)

	addrs := s.Brokers()
	if err := s.RestartKafka(ctx, 300*time.Millisecond); err != nil {
		t.Fatalf("restart Kafka: %v", err)
	}
	if got := s.Brokers(); strings.Join(got, ",") != strings.Join(addrs, ",") {
		t.Fatalf("Kafka came back on %v, was %v", got, addrs)
	}
	produce(t, s, catalog.UserEvents, "after", `{"user_id":"after"}`)
	got := waitDeadLetters(t, f.cfg.DatabaseURL, catalog.UserEvents, 2)
	if len(got) != 2 || string(got[0].Event.Data()) != `{"user_id":"after"}` {
		t.Fatalf("after the Kafka restart: %+v (the first record must not be delivered again)", got)
	}

	dlURL, _ := s.FunctionURL("dead-letter")
	if err := s.StopFunction(ctx, "dead-letter"); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(dlURL + "/health/readiness"); err == nil {
		resp.Body.Close()
		t.Fatalf("stopped function still answers: %d", resp.StatusCode)
	}
	if err := s.StartFunction(ctx, "dead-letter"); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.FunctionURL("dead-letter"); u != dlURL {
		t.Fatalf("dead-letter came back on %s, was %s", u, dlURL)
	}
	produce(t, s, catalog.UserEvents, "restarted", `{"user_id":"restarted"}`)
	if got := waitDeadLetters(t, f.cfg.DatabaseURL, catalog.UserEvents, 3); len(got) != 3 {
		t.Fatalf("after the function restart: %d dead letters, want 3", len(got))
	}
	if err := s.StartFunction(ctx, "dead-letter"); err == nil {
		t.Fatal("starting a running function again succeeded")
	}
}
