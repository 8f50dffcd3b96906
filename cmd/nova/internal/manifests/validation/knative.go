package validation

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/kobject"
)

// Rules Knative's admission webhooks enforce on Brokers and Triggers beyond
// their CRD schemas (knative.dev/eventing pkg/apis/eventing/v1
// trigger_validation.go and broker_validation.go, the Kafka webhook's
// BrokerStub, duck Destination and DeliverySpec validation). Only the rules
// that need nothing but the object itself are here: not CESQL parsing, and
// not what depends on a cluster's feature flags beyond their defaults.

// BrokerClassAnnotation names a Broker's implementation.
const BrokerClassAnnotation = "eventing.knative.dev/broker.class"

// attributeName is what Knative accepts as a filter attribute: a CloudEvents
// attribute name.
var attributeName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

func checkTrigger(_ context.Context, obj map[string]any) []fieldProblem {
	spec, _ := obj["spec"].(map[string]any)
	ns := namespaceOf(obj)
	var out []fieldProblem
	broker, _ := spec["broker"].(string)
	brokerRef, hasRef := spec["brokerRef"].(map[string]any)
	switch {
	case broker == "" && !hasRef:
		out = append(out, fieldProblem{field: "spec.broker", message: "missing field(s)"})
	case broker != "" && hasRef:
		out = append(out, fieldProblem{field: "spec", message: "expected exactly one, got both: spec.broker, spec.brokerRef"})
	}
	if refNS, _ := brokerRef["namespace"].(string); refNS != "" {
		out = append(out, fieldProblem{field: "spec.brokerRef.namespace", message: "must not set the field(s) (cross-namespace event links are disabled by default)"})
	}
	if filter, ok := spec["filter"].(map[string]any); ok {
		attrs, _ := filter["attributes"].(map[string]any)
		out = append(out, checkAttributeNames(attrs, "spec.filter.attributes")...)
	}
	if filters, ok := spec["filters"].([]any); ok {
		for i, f := range filters {
			out = append(out, checkFilter(f, fmt.Sprintf("spec.filters[%d]", i))...)
		}
	}
	sub, _ := spec["subscriber"].(map[string]any)
	out = append(out, checkDestination(sub, "spec.subscriber", ns)...)
	if d, ok := spec["delivery"].(map[string]any); ok {
		out = append(out, checkDelivery(d, "spec.delivery", ns)...)
	}
	return out
}

func checkAttributeNames(attrs map[string]any, path string) []fieldProblem {
	var out []fieldProblem
	for _, k := range sortedKeys(attrs) {
		if !attributeName.MatchString(k) {
			out = append(out, fieldProblem{
				field:   fmt.Sprintf("%s[%s]", path, k),
				message: fmt.Sprintf("invalid key name %q: Attribute name must start with a letter and can only contain lowercase alphanumeric", k),
			})
		}
	}
	return out
}

// checkFilter checks one element of spec.filters and the filters nested in
// it: one dialect each, attribute names in exact, prefix and suffix.
func checkFilter(v any, path string) []fieldProblem {
	f, ok := v.(map[string]any)
	if !ok {
		return nil // the schema reports the type
	}
	var out []fieldProblem
	dialects := 0
	for _, d := range []string{"exact", "prefix", "suffix"} {
		if m, ok := f[d].(map[string]any); ok && len(m) > 0 {
			dialects++
			out = append(out, checkAttributeNames(m, path+"."+d)...)
		}
	}
	for _, d := range []string{"all", "any"} {
		if list, ok := f[d].([]any); ok && len(list) > 0 {
			dialects++
			for i, x := range list {
				out = append(out, checkFilter(x, fmt.Sprintf("%s.%s[%d]", path, d, i))...)
			}
		}
	}
	if not, ok := f["not"]; ok && not != nil {
		dialects++
		out = append(out, checkFilter(not, path+".not")...)
	}
	if s, _ := f["cesql"].(string); s != "" {
		dialects++
	}
	if dialects > 1 {
		out = append(out, fieldProblem{field: path, message: "multiple dialects found, filters can have only one dialect set"})
	}
	return out
}

// checkDestination is Knative's Destination rule: a ref, a URI, or a ref with
// a relative URI; a ref names apiVersion, kind and name, in the object's own
// namespace.
func checkDestination(d map[string]any, path, ns string) []fieldProblem {
	ref, hasRef := d["ref"].(map[string]any)
	uri, _ := d["uri"].(string)
	if !hasRef && uri == "" {
		return []fieldProblem{{field: path, message: fmt.Sprintf("expected at least one, got none: %s.ref, %s.uri", path, path)}}
	}
	var out []fieldProblem
	if uri != "" {
		u, err := url.Parse(uri)
		switch {
		case err != nil:
			out = append(out, fieldProblem{field: path + ".uri", message: fmt.Sprintf("invalid value: %s: %v", uri, err)})
		case hasRef && u.IsAbs():
			out = append(out, fieldProblem{field: path, message: fmt.Sprintf("Absolute URI is not allowed when Ref or [apiVersion, kind, name] is present: %s.ref, %s.uri", path, path)})
		case !hasRef && (!u.IsAbs() || u.Host == ""):
			out = append(out, fieldProblem{field: path + ".uri", message: fmt.Sprintf("invalid value: %s: Relative URI is not allowed when Ref and [apiVersion, kind, name] is absent", uri)})
		}
	}
	if hasRef {
		for _, k := range []string{"apiVersion", "kind", "name"} {
			if s, _ := ref[k].(string); s == "" {
				out = append(out, fieldProblem{field: path + ".ref." + k, message: "missing field(s)"})
			}
		}
		if refNS, _ := ref["namespace"].(string); refNS != "" && ns != "" && refNS != ns {
			out = append(out, fieldProblem{field: path + ".ref.namespace", message: fmt.Sprintf("mismatched namespaces: %q is not the object's %q (cross-namespace references are disabled by default)", refNS, ns)})
		}
	}
	return out
}

// checkDelivery is Knative's DeliverySpec rule, with the default feature
// flags (delivery-timeout on, delivery-retryafter off).
func checkDelivery(d map[string]any, path, ns string) []fieldProblem {
	var out []fieldProblem
	if dls, ok := d["deadLetterSink"].(map[string]any); ok {
		out = append(out, checkDestination(dls, path+".deadLetterSink", ns)...)
	}
	if r, ok := d["retry"].(int64); ok && r < 0 {
		out = append(out, fieldProblem{field: path + ".retry", message: fmt.Sprintf("invalid value: %d: must be >= 0", r)})
	}
	if p, ok := d["backoffPolicy"].(string); ok && p != "linear" && p != "exponential" {
		out = append(out, fieldProblem{field: path + ".backoffPolicy", message: fmt.Sprintf("invalid value: %s: must be linear or exponential", p)})
	}
	if s, ok := d["backoffDelay"].(string); ok {
		if _, err := kobject.ParseDuration(s); err != nil {
			out = append(out, fieldProblem{field: path + ".backoffDelay", message: fmt.Sprintf("invalid value: %s: not an ISO-8601 duration", s)})
		}
	}
	if s, ok := d["timeout"].(string); ok {
		if t, err := kobject.ParseDuration(s); err != nil || t == 0 {
			out = append(out, fieldProblem{field: path + ".timeout", message: fmt.Sprintf("invalid value: %s: not a non-zero ISO-8601 duration", s)})
		}
	}
	if _, ok := d["retryAfterMax"]; ok {
		out = append(out, fieldProblem{field: path + ".retryAfterMax", message: "must not set the field(s) (feature delivery-retryafter is disabled by default)"})
	}
	if f, ok := d["format"].(string); ok && f != "json" && f != "binary" {
		out = append(out, fieldProblem{field: path + ".format", message: fmt.Sprintf("invalid value: %s: must be json or binary", f)})
	}
	return out
}

func checkBroker(_ context.Context, obj map[string]any) []fieldProblem {
	meta, _ := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	class, _ := ann[BrokerClassAnnotation].(string)
	ns := namespaceOf(obj)
	var out []fieldProblem
	if class == "" {
		// The defaulting webhook would fill in the cluster's default class
		// (config-br-defaults), which is the channel-based broker unless the
		// cluster says otherwise: a Kafka broker must say so itself.
		out = append(out, fieldProblem{
			field:   fmt.Sprintf("metadata.annotations[%s]", BrokerClassAnnotation),
			message: "missing: the cluster's default broker class would apply (Kafka for a Kafka broker)",
		})
	}
	spec, _ := obj["spec"].(map[string]any)
	if cfg, ok := spec["config"].(map[string]any); ok {
		for _, k := range []string{"apiVersion", "kind", "name"} {
			if s, _ := cfg[k].(string); s == "" {
				out = append(out, fieldProblem{field: "spec.config." + k, message: "missing field(s)"})
			}
		}
		if class == "Kafka" || class == "KafkaNamespaced" {
			if kind, _ := cfg["kind"].(string); kind != "" && !strings.EqualFold(kind, "ConfigMap") {
				out = append(out, fieldProblem{field: "spec.config.kind", message: fmt.Sprintf("invalid value: %s: Expected ConfigMap", kind)})
			}
		}
		if cns, _ := cfg["namespace"].(string); class == "KafkaNamespaced" && cns != "" && ns != "" && cns != ns {
			out = append(out, fieldProblem{field: "spec.config.namespace", message: fmt.Sprintf("invalid value: %s: a KafkaNamespaced broker's config must be in its own namespace %s", cns, ns)})
		}
	}
	if d, ok := spec["delivery"].(map[string]any); ok {
		out = append(out, checkDelivery(d, "spec.delivery", ns)...)
	}
	return out
}

func namespaceOf(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	return ns
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
