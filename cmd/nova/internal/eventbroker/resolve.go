package eventbroker

import (
	"errors"
	"fmt"
)

// Resolve checks a set of Brokers and Triggers as the Kafka Broker's
// controllers would before making them ready, and returns the Brokers with
// their topic configuration read from the ConfigMaps (by name, the
// namespace aside: a local run has one of each). A Broker whose ConfigMap
// is missing or invalid, a Trigger whose Broker does not exist, and a name
// used twice are errors, each naming the object.
func Resolve(brokers []Broker, triggers []Trigger, configMaps map[string]map[string]string) ([]Broker, error) {
	var errs []error
	out := make([]Broker, 0, len(brokers))
	byRef := map[string]Broker{}
	for _, b := range brokers {
		if prev, dup := byRef[b.Ref()]; dup {
			errs = append(errs, &Error{File: b.File, Object: BrokerKind + " " + b.Ref(), Field: "metadata.name",
				Reason: "also defined in " + prev.File})
			continue
		}
		data, ok := configMaps[b.Config.Name]
		if !ok {
			errs = append(errs, &Error{File: b.File, Object: BrokerKind + " " + b.Ref(), Field: "spec.config",
				Reason: fmt.Sprintf("ConfigMap %s/%s is not in the manifests (the Broker would never be ready)", b.Config.Namespace, b.Config.Name)})
			continue
		}
		cfg, err := ParseTopicConfig(data)
		if err != nil {
			errs = append(errs, &Error{File: b.File, Object: BrokerKind + " " + b.Ref(), Field: "spec.config",
				Reason: fmt.Sprintf("ConfigMap %s: %v (the Broker would never be ready)", b.Config.Name, err)})
			continue
		}
		b.Kafka = cfg
		byRef[b.Ref()] = b
		out = append(out, b)
	}
	seen := map[string]string{}
	for _, t := range triggers {
		obj := TriggerKind + " " + t.Ref()
		if prev, dup := seen[t.Ref()]; dup {
			errs = append(errs, &Error{File: t.File, Object: obj, Field: "metadata.name", Reason: "also defined in " + prev})
			continue
		}
		seen[t.Ref()] = t.File
		if _, ok := byRef[t.Namespace+"/"+t.Broker]; !ok {
			errs = append(errs, &Error{File: t.File, Object: obj, Field: "spec.broker",
				Reason: fmt.Sprintf("Broker %s/%s is not in the manifests (the Trigger would never be ready)", t.Namespace, t.Broker)})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// BrokerOf returns the Broker t names among brokers.
func BrokerOf(t Trigger, brokers []Broker) (Broker, bool) {
	for _, b := range brokers {
		if b.Namespace == t.Namespace && b.Name == t.Broker {
			return b, true
		}
	}
	return Broker{}, false
}
