package system

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/dispatcher"
	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/httpapi"
)

// brokerTopics are the topics of the manifests' Kafka Brokers, as the
// Kafka Broker's controller creates them.
func brokerTopics(brokers []eventbroker.Broker) []broker.Topic {
	out := make([]broker.Topic, 0, len(brokers))
	for _, b := range brokers {
		out = append(out, broker.Topic{
			Name:        b.Topic(),
			Partitions:  b.Kafka.Partitions,
			Replication: b.Kafka.Replication,
			Config:      b.Kafka.TopicConfig,
			External:    b.ExternalTopic != "",
		})
	}
	return out
}

// serveIngress starts the Kafka Broker ingress of the manifests' Brokers on
// cfg.IngressAddr, storing events through a producer of its own on brokers,
// logged in as sec (brokerSecurity).
func (s *System) serveIngress(brokers []string, sec kafka.Security) error {
	p, err := kafka.NewProducer(func() kafka.ProducerConfig {
		c := kafka.DefaultProducerConfig(brokers...)
		c.ClientID = "nova-broker-ingress"
		c.Security = sec
		c.Logger = s.log
		return c
	}())
	if err != nil {
		return fmt.Errorf("broker ingress: %w", err)
	}
	s.ingressProducer = p
	s.store = eventbroker.NewStore(p)
	senders, err := s.brokerSenders()
	if err != nil {
		return fmt.Errorf("broker ingress: %w", err)
	}
	in, err := eventbroker.NewIngress(eventbroker.IngressConfig{Store: s.store, Logger: s.log, Senders: senders}, s.brokers)
	if err != nil {
		return err
	}
	if s.ingressLn, err = net.Listen("tcp", s.cfg.IngressAddr); err != nil {
		return fmt.Errorf("broker ingress: listen on %s: %w", s.cfg.IngressAddr, err)
	}
	if s.ingress, err = httpapi.NewServer(httpapi.ServerConfig{Addr: s.cfg.IngressAddr, ReadHeaderTimeout: 2 * time.Second}, in, s.log); err != nil {
		return err
	}
	go func() {
		if err := s.ingress.Serve(s.ingressLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("broker ingress: %w", err))
		}
	}()
	return nil
}

// brokerSenders checks who posts to each Broker as the Kafka Broker's
// receiver does with authentication-oidc on: tokens of the run's issuer
// for the Broker's audience, from the senders of its EventPolicy or, with
// none, from any service account of its namespace.
func (s *System) brokerSenders() (map[string]sender.Authenticator, error) {
	out := map[string]sender.Authenticator{}
	for _, b := range s.brokers {
		refs := s.manifests.BrokerSenders(b.Namespace, b.Name)
		v, err := sender.NewVerifier(sender.Config{DiscoveryURL: s.issuer.URL(), Audience: b.Audience(),
			Namespace: b.Namespace, Senders: refs, SameNamespace: len(refs) == 0})
		if err != nil {
			return nil, fmt.Errorf("Broker %s: %w", b.Ref(), err)
		}
		out[b.Ref()] = v
	}
	return out, nil
}

// IngressURL is the base URL of the Kafka Broker ingress ("" when the
// manifests hold no Broker); a Broker's address is it plus
// /<namespace>/<name>.
func (s *System) IngressURL() string {
	if s.ingressLn == nil {
		return ""
	}
	return "http://" + s.ingressLn.Addr().String()
}

// resolver gives sinks their addresses: a Broker reference
// (eventing.knative.dev/v1 Broker) the ingress address of that Broker, as
// its status.address.url would be on a cluster; anything else the function
// of that name.
type resolver struct {
	functions dispatcher.MapResolver
	ingress   string
	brokers   map[string]bool // "<namespace>/<name>"
}

func (r resolver) Resolve(ctx context.Context, ref source.Reference) (*url.URL, error) {
	if ref.Kind != eventbroker.BrokerKind || ref.APIVersion != eventbroker.APIVersion {
		return r.functions.Resolve(ctx, ref)
	}
	if !r.brokers[ref.Namespace+"/"+ref.Name] {
		return nil, fmt.Errorf("no Broker %s/%s in the manifests", ref.Namespace, ref.Name)
	}
	return url.Parse(r.ingress + "/" + ref.Namespace + "/" + ref.Name)
}

// triggers are the manifests' Triggers as the dispatcher runs them, each
// with its Broker and the store its replies go to.
func (s *System) dispatcherTriggers() []dispatcher.Trigger {
	out := make([]dispatcher.Trigger, 0, len(s.triggers))
	for _, t := range s.triggers {
		b, _ := eventbroker.BrokerOf(t, s.brokers) // manifests.Load checked it exists
		topic := b.Topic()
		out = append(out, dispatcher.Trigger{Trigger: t, Broker: b, Reply: func(ctx context.Context, e cloudevents.Event) error {
			return s.store.Append(ctx, topic, e)
		}})
	}
	return out
}

// BrokerKafkaUser is the Kafka Broker data plane's login: the KafkaUser of
// the Broker overlay (broker-user.yaml), whose password the Secret that
// kafka-broker-config's auth.secret.ref names holds in a cluster (README.md).
const BrokerKafkaUser = "nova-broker"

// brokerSecurity is how the Kafka Broker's data plane, its ingress and its
// Triggers' consumers, logs in: as BrokerKafkaUser, within that user's ACLs,
// as in a cluster. Without logins (--kafka-no-auth, or a Kafka of the
// operator's) it is how Nova's own clients log in.
func (s *System) brokerSecurity() (kafka.Security, error) {
	sec := s.KafkaSecurity()
	if s.logins == nil {
		return sec, nil
	}
	pass, err := s.logins.Secret(BrokerKafkaUser, "password")
	if err != nil {
		return sec, fmt.Errorf("the Broker's Kafka login: no KafkaUser %s in the manifests (%w)", BrokerKafkaUser, err)
	}
	sec.Username, sec.Password = BrokerKafkaUser, pass
	return sec, nil
}
