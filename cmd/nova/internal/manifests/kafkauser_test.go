package manifests_test

import (
	"path/filepath"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/registry"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Every KafkaSource, of the base and of the Broker overlay, logs in over
// TLS as a KafkaUser of the same manifests whose ACLs let it read its
// topics in its group: what Knative's dispatcher needs in the cluster and
// what nova run enforces locally.
func TestSourcesLogInAsUsersAllowedToRead(t *testing.T) {
	for _, dir := range []string{eventing, filepath.Join(eventing, "overlays", "broker")} {
		set, err := manifests.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		users := map[string]manifests.KafkaUser{}
		for _, u := range set.KafkaUsers {
			users[u.Name] = u
		}
		for _, s := range set.Sources {
			n := s.Net
			if !n.SASL || !n.TLS || n.CACert.Name == "" {
				t.Errorf("%s: KafkaSource %s does not log in over TLS (spec.net %+v)", dir, s.Name, n)
				continue
			}
			name := set.Secrets[n.SASLUser.Name][n.SASLUser.Key]
			if typ := set.Secrets[n.SASLType.Name][n.SASLType.Key]; typ != "SCRAM-SHA-512" {
				t.Errorf("%s: KafkaSource %s: sasl.type from Secret %s key %s is %q", dir, s.Name, n.SASLType.Name, n.SASLType.Key, typ)
			}
			u, ok := users[name]
			if !ok || n.SASLPassword.Name != name || n.SASLPassword.Key != "password" {
				t.Errorf("%s: KafkaSource %s logs in as %q with the password of Secret %s key %s: not a KafkaUser's", dir, s.Name, name, n.SASLPassword.Name, n.SASLPassword.Key)
				continue
			}
			for _, topic := range s.Topics {
				if !allows(u, "topic", topic, "Read") {
					t.Errorf("%s: KafkaUser %s may not read %s, which KafkaSource %s consumes", dir, u.Name, topic, s.Name)
				}
			}
			if !allows(u, "group", s.ConsumerGroup, "Read") {
				t.Errorf("%s: KafkaUser %s may not read group %s of KafkaSource %s", dir, u.Name, s.ConsumerGroup, s.Name)
			}
		}
	}
}

func allows(u manifests.KafkaUser, typ, name, op string) bool {
	for _, a := range u.ACLs {
		if a.Type == typ && a.Operation == op && matches(a, name) {
			return true
		}
	}
	return false
}

func matches(a broker.ACL, name string) bool {
	if a.Prefixed {
		return len(name) >= len(a.Name) && name[:len(a.Name)] == a.Name
	}
	return a.Name == name || a.Name == "*"
}

// Only the functions the catalogue names as a topic's writers may write it:
// every other login, a function's or the Broker's, is refused by Kafka.
func TestOnlyATopicsWritersMayWriteIt(t *testing.T) {
	cat := catalog.Default()
	logins := kafkaUsers(t)
	for _, dir := range []string{eventing, filepath.Join(eventing, "overlays", "broker")} {
		set, err := manifests.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		users := map[string]bool{}
		for _, u := range set.KafkaUsers {
			users[u.Name] = true
		}
		for _, topic := range cat.Topics() {
			writers := map[string]bool{}
			for _, fn := range topic.Writers {
				writers[logins[fn]] = true
				if !users[logins[fn]] {
					t.Errorf("%s: %s writes %s but logs in as %q, no KafkaUser", dir, fn, topic.Name, logins[fn])
				}
			}
			for _, u := range set.KafkaUsers {
				if may := allows(u, "topic", topic.Name, "Write"); may != writers[u.Name] {
					t.Errorf("%s: KafkaUser %s may write %s: %v; the catalogue's writers are %v", dir, u.Name, topic.Name, may, topic.Writers)
				}
			}
		}
	}
}

// kafkaUsers are the functions' Kafka logins, by function, as their
// func.yaml names them (KAFKA_SASL_USERNAME).
func kafkaUsers(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range registry.Functions() {
		y, err := funchost.LoadFuncYAML(filepath.Join(eventing, "..", f.Dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range y.Run.Envs {
			if e.Name == kafka.EnvSASLUsername {
				out[f.Name] = e.Value
			}
		}
	}
	return out
}
