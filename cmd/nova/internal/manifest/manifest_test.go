package manifest_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/manifest"
)

// eventingDir is the repository's eventing/, what kubectl apply -k installs.
const eventingDir = "../../../../eventing"

// knownProblems are the problems the repository's eventing/ has today, by
// kustomization (relative to eventing/; "." is eventing/ itself), each as
// "file: object: field". They are real: a cluster would refuse these
// objects. Whoever fixes eventing/ removes the entries; the test fails both
// on a new problem and on a listed one that is gone.
var knownProblems = map[string][]string{
	".": {
		// Strimzi 1.0 and later serve KafkaTopic at kafka.strimzi.io/v1 only.
		"topics/content-events.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/content-events: apiVersion",
		"topics/media-events.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/media-events: apiVersion",
		"topics/user-events.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/user-events: apiVersion",
		"topics/messaging-events.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/messaging-events: apiVersion",
		"topics/notification-events.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/notification-events: apiVersion",
		"topics/analytics-events.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/analytics-events: apiVersion",
		"topics/feed-updates.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/feed-updates: apiVersion",
		"topics/ranking-updates.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/ranking-updates: apiVersion",
		"topics/trust-safety-events.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/trust-safety-events: apiVersion",
		"topics/realtime-chat.yaml: kafka.strimzi.io/v1beta2 KafkaTopic kafka/realtime-chat: apiVersion",
	},
}

func newChecker(t *testing.T) *manifest.Checker {
	t.Helper()
	c, err := manifest.New(manifest.Config{StrimziDir: "strimzi"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func check(t *testing.T, c *manifest.Checker, dir string) manifest.Report {
	t.Helper()
	rep, err := c.Check(context.Background(), dir)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return rep
}

func key(p manifest.Problem) string {
	return p.File + ": " + p.Object.String() + ": " + p.Field
}

// TestRepositoryEventing checks eventing/ and every overlay as kubectl apply
// -k would send them: exactly the known problems, no more, no fewer.
func TestRepositoryEventing(t *testing.T) {
	c := newChecker(t)
	dirs, err := manifest.Dirs(eventingDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, dir := range dirs {
		rel, err := filepath.Rel(eventingDir, dir)
		if err != nil {
			t.Fatal(err)
		}
		seen[rel] = true
		t.Run(rel, func(t *testing.T) {
			rep := check(t, c, dir)
			if rep.Objects == 0 && len(rep.Problems) == 0 {
				t.Fatalf("%s built to nothing", dir)
			}
			want := knownProblems[rel]
			var got []string
			for _, p := range rep.Problems {
				got = append(got, key(p))
				if !slices.Contains(want, key(p)) {
					t.Errorf("new problem: %s", p)
				}
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("known problem no longer found (remove it from knownProblems): %s", w)
				}
			}
		})
	}
	for rel := range knownProblems {
		if !seen[rel] {
			t.Errorf("knownProblems lists %s, which is not a kustomization under eventing/", rel)
		}
	}
}

func TestValidFixture(t *testing.T) {
	rep := check(t, newChecker(t), "testdata/valid")
	for _, p := range rep.Problems {
		t.Errorf("problem in a valid fixture: %s", p)
	}
	// Every kind the check knows, and the generated ConfigMap.
	if rep.Objects != 20 {
		t.Errorf("built %d objects, want 20", rep.Objects)
	}
}

// want is one expected problem: the object (Kind name), the field and a
// part of the message.
type want struct{ object, field, message string }

func TestBrokenFixtures(t *testing.T) {
	cases := map[string][]want{
		"kafkasource-typo":           {{"KafkaSource feed-fanout", "spec.consumerGroupp", "unknown field"}},
		"kafkasource-retry-string":   {{"KafkaSource feed-fanout", "spec.delivery.retry", "must be of type integer"}},
		"kafkasource-missing-topics": {{"KafkaSource feed-fanout", "spec.topics", "Required value"}},
		"kafkasource-metadata-lables": {
			{"KafkaSource feed-fanout", "metadata.lables", "unknown field"},
		},
		"kafkasource-bad-names": {
			{"KafkaSource Feed_Fanout", "metadata.name", "RFC 1123 subdomain"},
			{"KafkaSource Feed_Fanout", "metadata.labels", `Invalid value: "no spaces allowed"`},
		},
		"servicemonitor-unknown-field": {{"ServiceMonitor exporter", "spec.endpoints[0].intervall", "unknown field"}},
		"configmap-datta":              {{"ConfigMap nova-config", "datta", "unknown field"}},
		"deployment-replicas-string":   {{"Deployment exporter", "spec.replicas", "expected numeric"}},
		"deployment-missing-selector":  {{"Deployment exporter", "spec.selector", "Required value"}},
		"rolebinding-missing-roleref":  {{"RoleBinding read-config", "roleRef", "Required value"}},
		"trigger-filter-Type": {
			{"Trigger feed-fanout-posts", "spec.filter.attributes[Type]", `invalid key name "Type"`},
		},
		"trigger-no-subscriber": {
			{"Trigger feed-fanout-posts", "spec.subscriber", "expected at least one, got none"},
		},
		"broker-no-class": {
			{"Broker nova", "metadata.annotations[eventing.knative.dev/broker.class]", "missing"},
		},
		"broker-kafka-config-kind": {
			{"Broker nova", "spec.config.kind", "Expected ConfigMap"},
			{"Broker nova", "spec.delivery.backoffDelay", "not an ISO-8601 duration"},
		},
		"kafkatopic-v1beta2":        {{"KafkaTopic content-events", "apiVersion", "no such API version is served"}},
		"kafkatopic-partitions-six": {{"KafkaTopic content-events", "spec.partitions", `"six": must be of type integer`}},
		"kafkatopic-unknown-fields": {
			{"KafkaTopic content-events", "metadata.lables", "unknown field"},
			{"KafkaTopic content-events", "spec.partitons", "unknown field"},
		},
		"kafkauser-bad-acl": {
			{"KafkaUser feed-fanout", "spec.authentication.type", `Unsupported value: "scram"`},
			{"KafkaUser feed-fanout", "spec.authorization.acls[0].operations[0]", `Unsupported value: "Reed"`},
			{"KafkaUser feed-fanout", "spec.authorization.acls[0].resource", "Required value"},
		},
		"unknown-kind":     {{"StatefulSet kafka", "kind", "no schema for this kind"}},
		"missing-resource": {{"", "", "kustomize build: accumulating resources"}},
	}
	entries, err := os.ReadDir("testdata/broken")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := cases[e.Name()]; !ok {
			t.Errorf("testdata/broken/%s has no expected problems in the test", e.Name())
		}
	}
	c := newChecker(t)
	for name, wants := range cases {
		t.Run(name, func(t *testing.T) {
			rep := check(t, c, filepath.Join("testdata/broken", name))
			if len(rep.Problems) != len(wants) {
				t.Errorf("%d problems, want %d", len(rep.Problems), len(wants))
			}
			for _, p := range rep.Problems {
				t.Logf("%s", p)
				if p.Object != (manifest.Object{}) && p.File == "" {
					t.Errorf("no file named: %s", p)
				}
			}
			for _, w := range wants {
				found := slices.ContainsFunc(rep.Problems, func(p manifest.Problem) bool {
					obj := strings.TrimSpace(p.Object.Kind + " " + p.Object.Name)
					return obj == w.object && p.Field == w.field && strings.Contains(p.Message, w.message)
				})
				if !found {
					t.Errorf("missing: %s: %s: …%s…", w.object, w.field, w.message)
				}
			}
		})
	}
}

// A problem names the file, the object and the field, as a person reads it.
func TestProblemString(t *testing.T) {
	rep := check(t, newChecker(t), "testdata/broken/kafkatopic-v1beta2")
	if len(rep.Problems) != 1 {
		t.Fatalf("problems: %v", rep.Problems)
	}
	got := rep.Problems[0].String()
	want := "testdata/broken/kafkatopic-v1beta2/topic.yaml: kafka.strimzi.io/v1beta2 KafkaTopic content-events: apiVersion: no such API version is served (KafkaTopic is served as kafka.strimzi.io/v1)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestKinds(t *testing.T) {
	want := []string{
		"apps/v1 Deployment",
		"eventing.knative.dev/v1 Broker",
		"eventing.knative.dev/v1 Trigger",
		"kafka.strimzi.io/v1 KafkaTopic",
		"kafka.strimzi.io/v1 KafkaUser",
		"monitoring.coreos.com/v1 PrometheusRule",
		"monitoring.coreos.com/v1 ServiceMonitor",
		"networking.k8s.io/v1 NetworkPolicy",
		"rbac.authorization.k8s.io/v1 ClusterRole",
		"rbac.authorization.k8s.io/v1 ClusterRoleBinding",
		"rbac.authorization.k8s.io/v1 Role",
		"rbac.authorization.k8s.io/v1 RoleBinding",
		"sources.knative.dev/v1beta1 KafkaSource",
		"v1 ConfigMap",
		"v1 Secret",
		"v1 Service",
		"v1 ServiceAccount",
	}
	if got := newChecker(t).Kinds(); !slices.Equal(got, want) {
		t.Errorf("kinds:\n got %q\nwant %q", got, want)
	}
}

func TestDirs(t *testing.T) {
	got, err := manifest.Dirs("testdata/tree")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"testdata/tree", "testdata/tree/overlays/broker", "testdata/tree/overlays/with-base"}
	if !slices.Equal(got, want) {
		t.Errorf("Dirs = %q, want %q", got, want)
	}
	c := newChecker(t)
	rep := check(t, c, "testdata/tree/overlays/broker")
	if rep.Objects != 2 || len(rep.Problems) != 1 {
		t.Fatalf("overlay: %d objects, problems %v; want 2 objects and the patched retry refused", rep.Objects, rep.Problems)
	}
	if p := rep.Problems[0]; p.Field != "spec.delivery.retry" || p.File != "broker.yaml" || p.Object.Namespace != "nova" {
		t.Errorf("unexpected problem: %s (file %q)", p, p.File)
	}
	rep = check(t, c, "testdata/tree/overlays/with-base")
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Message, "cycle detected") {
		t.Errorf("an overlay using the folder that holds it: %v, want kustomize's cycle error", rep.Problems)
	}
}

// Without its node_modules the Strimzi validator is missing, which is an
// error, never a silently skipped check.
func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, manifest.StrimziScript), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := manifest.New(manifest.Config{StrimziDir: dir})
	if err == nil || !strings.Contains(err.Error(), "make strimzi-deps") {
		t.Errorf("New without node_modules: %v", err)
	}
	_, err = manifest.New(manifest.Config{StrimziDir: "strimzi", Node: filepath.Join(dir, "no-node")})
	if err == nil || !strings.Contains(err.Error(), "Node.js") {
		t.Errorf("New without node: %v", err)
	}
}
