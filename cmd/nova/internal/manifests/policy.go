package manifests

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/sender"
)

// EventPolicyKind is Knative's EventPolicy.
const EventPolicyKind = "EventPolicy"

// SendersConfigMap holds each event function's senders as the function
// reads them (NOVA_EVENT_SENDERS), mirroring its EventPolicy.
const SendersConfigMap = "nova-event-senders"

// Policy is an EventPolicy: the function (Knative Service) or Kafka
// Broker it is to, and the senders it admits.
type Policy struct {
	File      string
	Name      string
	Namespace string
	// Function is the Knative Service the policy guards, "" for a Broker.
	Function string
	// Broker is the Broker the policy guards (Knative enforces it there
	// itself), "" for a function.
	Broker  string
	Senders []sender.Ref
}

type eventPolicy struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		To   []policyPeer `json:"to"`
		From []policyPeer `json:"from"`
	} `json:"spec"`
}

type policyPeer struct {
	Ref *struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Name       string `json:"name"`
		Namespace  string `json:"namespace"`
	} `json:"ref"`
	Sub string `json:"sub"`
}

var senderAPIs = map[string]string{
	sender.KindKafkaSource: "sources.knative.dev/",
	sender.KindTrigger:     "eventing.knative.dev/",
}

// parsePolicy reads an EventPolicy the way Nova uses them: to one Knative
// Service or Broker, from KafkaSources and Triggers of its namespace by
// ref. A
// policy by sub (service account names) cannot be mirrored into
// nova-event-senders, so it is refused rather than half-enforced.
func parsePolicy(file string, o Object) (Policy, error) {
	var ep eventPolicy
	if err := yaml.Unmarshal(o.YAML, &ep); err != nil {
		return Policy{}, fmt.Errorf("%s: %s: %w", file, o, err)
	}
	p := Policy{File: file, Name: ep.Metadata.Name, Namespace: o.Namespace}
	if p.Namespace == "" {
		p.Namespace = source.DefaultNamespace
	}
	fail := func(format string, a ...any) (Policy, error) {
		return Policy{}, fmt.Errorf("%s: %s: %s", file, o, fmt.Sprintf(format, a...))
	}
	switch to := ep.Spec.To; {
	case len(to) != 1 || to[0].Ref == nil:
		return fail("spec.to must be one ref: the function (Knative Service) or Broker it guards")
	case to[0].Ref.Kind == "Service" && strings.HasPrefix(to[0].Ref.APIVersion, "serving.knative.dev/"):
		p.Function = to[0].Ref.Name
	case to[0].Ref.Kind == "Broker" && strings.HasPrefix(to[0].Ref.APIVersion, "eventing.knative.dev/"):
		p.Broker = to[0].Ref.Name
	default:
		return fail("spec.to: %s %s is neither a Knative Service nor a Broker", to[0].Ref.APIVersion, to[0].Ref.Kind)
	}
	if len(ep.Spec.From) == 0 {
		return fail("spec.from names no sender")
	}
	for i, f := range ep.Spec.From {
		if f.Ref == nil || f.Sub != "" {
			return fail("spec.from[%d]: name a KafkaSource or Trigger by ref; a sub cannot be mirrored into %s", i, SendersConfigMap)
		}
		api, known := senderAPIs[f.Ref.Kind]
		if !known || !strings.HasPrefix(f.Ref.APIVersion, api) {
			return fail("spec.from[%d]: %s %s is neither a KafkaSource (sources.knative.dev) nor a Trigger (eventing.knative.dev)", i, f.Ref.APIVersion, f.Ref.Kind)
		}
		if f.Ref.Namespace != "" && f.Ref.Namespace != o.Namespace {
			return fail("spec.from[%d]: %s/%s is in namespace %s; a function admits senders of its own namespace only", i, f.Ref.Kind, f.Ref.Name, f.Ref.Namespace)
		}
		r, err := sender.ParseRef(f.Ref.Kind + "/" + f.Ref.Name)
		if err != nil {
			return fail("spec.from[%d]: %v", i, err)
		}
		p.Senders = append(p.Senders, r)
	}
	return p, nil
}

// checkPolicies holds the EventPolicies, nova-event-senders and the
// deliveries to one another: each function's line in nova-event-senders
// names the senders its policy does, and every KafkaSource or Trigger
// delivering to a guarded function (sink or dead-letter sink) is one of
// its senders and asks for a token of its audience, or the function would
// refuse every event it sends.
func checkPolicies(set *Set) error {
	var errs []error
	byFunction, byBroker := map[string]Policy{}, map[string]Policy{}
	for _, p := range set.Policies {
		if p.Broker != "" {
			if prev, dup := byBroker[p.Broker]; dup {
				errs = append(errs, fmt.Errorf("%s: EventPolicy %s is a second policy of Broker %s (the first: %s); one per Broker", p.File, p.Name, p.Broker, prev.Name))
			}
			byBroker[p.Broker] = p
			continue
		}
		if prev, dup := byFunction[p.Function]; dup {
			errs = append(errs, fmt.Errorf("%s: EventPolicy %s is a second policy of %s (the first: %s in %s); one per function", p.File, p.Name, p.Function, prev.Name, prev.File))
			continue
		}
		byFunction[p.Function] = p
	}
	mirror := set.ConfigMaps[SendersConfigMap]
	if len(byFunction) > 0 && mirror == nil {
		errs = append(errs, fmt.Errorf("EventPolicies exist but ConfigMap %s, which the functions read them from, does not", SendersConfigMap))
	}
	for fn, p := range byFunction {
		var listed []sender.Ref
		for _, s := range strings.Split(mirror[fn], ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			r, err := sender.ParseRef(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("ConfigMap %s key %s: %w", SendersConfigMap, fn, err))
				continue
			}
			listed = append(listed, r)
		}
		if !sameRefs(listed, p.Senders) {
			errs = append(errs, fmt.Errorf("ConfigMap %s key %s says %q, but EventPolicy %s (%s) admits %q: make them say the same",
				SendersConfigMap, fn, mirror[fn], p.Name, p.File, refList(p.Senders)))
		}
	}
	for fn := range mirror {
		if _, ok := byFunction[fn]; !ok {
			errs = append(errs, fmt.Errorf("ConfigMap %s key %s has no EventPolicy to %s", SendersConfigMap, fn, fn))
		}
	}
	deliveries := func(from sender.Ref, file, path string, d *source.Destination) {
		if d == nil || d.Ref == nil {
			return
		}
		if d.Ref.Kind == "Broker" {
			if p, guarded := byBroker[d.Ref.Name]; guarded && !slices.Contains(p.Senders, from) {
				errs = append(errs, fmt.Errorf("%s: %s delivers to Broker %s (%s), whose EventPolicy %s does not admit it", file, from, d.Ref.Name, path, p.Name))
			}
			return
		}
		if d.Ref.Kind != "Service" {
			return
		}
		p, guarded := byFunction[d.Ref.Name]
		if !guarded {
			return
		}
		if want := sender.AudiencePrefix + d.Ref.Name; d.Audience != want {
			errs = append(errs, fmt.Errorf("%s: %s %s: audience %q, want %q (the function accepts tokens of no other)", file, from, path, d.Audience, want))
		}
		if !slices.Contains(p.Senders, from) {
			errs = append(errs, fmt.Errorf("%s: %s delivers to %s (%s), whose EventPolicy %s does not admit it", file, from, d.Ref.Name, path, p.Name))
		}
	}
	for _, s := range set.Sources {
		from := sender.Ref{Kind: sender.KindKafkaSource, Name: s.Name}
		deliveries(from, s.File, "spec.sink", &s.Sink)
		deliveries(from, s.File, "spec.delivery.deadLetterSink", s.Delivery.DeadLetterSink)
	}
	for _, t := range set.Triggers {
		from := sender.Ref{Kind: sender.KindTrigger, Name: t.Name}
		deliveries(from, t.File, "spec.subscriber", &t.Subscriber)
		if t.Delivery != nil {
			deliveries(from, t.File, "spec.delivery.deadLetterSink", t.Delivery.DeadLetterSink)
		}
	}
	return errors.Join(errs...)
}

func sameRefs(a, b []sender.Ref) bool {
	key := func(r sender.Ref) string { return r.String() }
	as, bs := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		as[i] = key(a[i])
	}
	for i := range b {
		bs[i] = key(b[i])
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(slices.Compact(as), slices.Compact(bs))
}

func refList(rs []sender.Ref) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}
