package eventbroker

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/cmd/nova/internal/kobject"
	"github.com/nova-social/nova/cmd/nova/internal/source"
)

// ErrInvalid is matched (errors.Is) by every refusal of Parse.
var ErrInvalid = errors.New("invalid Broker or Trigger")

// Error is a Broker or Trigger the reader refuses: the file, the document
// within it, the object, the field path and why (in the words of Knative's
// webhook where it has them). It unwraps to ErrInvalid.
type Error = kobject.Error

// Parse reads the Brokers and Triggers of one (possibly multi-document)
// YAML file; file names it in errors. Documents of other kinds and empty
// documents are skipped. The error joins one *Error per refused object,
// each naming the first fault found in it.
func Parse(file string, data []byte) ([]Broker, []Trigger, error) {
	var (
		brokers  []Broker
		triggers []Trigger
		errs     []error
	)
	for i, doc := range kobject.Documents(data) {
		var raw any
		if err := yaml.Unmarshal(doc, &raw); err != nil {
			errs = append(errs, &Error{File: file, Document: i + 1, Reason: "invalid YAML: " + err.Error(), Kind: ErrInvalid})
			continue
		}
		top, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		kind, _ := top["kind"].(string)
		if kind != BrokerKind && kind != TriggerKind {
			continue
		}
		r := &reader{kobject.Reader{File: file, Document: i + 1, What: kind, Kind: ErrInvalid}}
		if av, _ := top["apiVersion"].(string); av != APIVersion {
			r.Fail("apiVersion", "%q is not %s (the only %s version read)", fmt.Sprint(top["apiVersion"]), APIVersion, kind)
			errs = append(errs, r.Err())
			continue
		}
		if kind == BrokerKind {
			b := r.broker(top)
			if r.Failed() {
				errs = append(errs, r.Err())
				continue
			}
			brokers = append(brokers, b)
			continue
		}
		t := r.trigger(top)
		if r.Failed() {
			errs = append(errs, r.Err())
			continue
		}
		triggers = append(triggers, t)
	}
	return brokers, triggers, errors.Join(errs...)
}

var (
	dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	// attrName is the eventing webhook's rule for filter attribute names.
	attrName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
)

func (r *reader) meta(top map[string]any) (name, namespace string, annotations map[string]string) {
	meta := r.Object(top, "metadata", "metadata", true)
	name = r.String(meta, "name", "metadata.name", true)
	if name != "" && !dnsName.MatchString(name) {
		r.Fail("metadata.name", "%q is not a valid name (lower-case letters, digits, '-' and '.')", name)
	}
	namespace = r.String(meta, "namespace", "metadata.namespace", false)
	if namespace == "" {
		namespace = DefaultNamespace
	}
	if name != "" && !r.Failed() {
		r.What += " " + namespace + "/" + name
	}
	return name, namespace, r.StringMap(meta, "annotations", "metadata.annotations")
}

func (r *reader) broker(top map[string]any) Broker {
	b := Broker{File: r.File}
	var ann map[string]string
	b.Name, b.Namespace, ann = r.meta(top)
	classField := "metadata.annotations." + ClassAnnotation
	switch class := ann[ClassAnnotation]; {
	case class == "":
		// The defaulting webhook would take a class from config-br-defaults,
		// which the local runtime does not have; the class says which
		// Broker this is, so it is required.
		r.Fail(classField, "missing field(s): the Broker class is required (%s)", KafkaClass)
	case class != KafkaClass:
		r.Fail(classField, "class %q is not emulated locally: only the Kafka Broker (%s) is", class, KafkaClass)
	}
	b.ExternalTopic = ann[ExternalTopicAnnotation]
	spec := r.Object(top, "spec", "spec", false)
	r.Known(spec, "spec", "config", "delivery")
	cfg := r.Object(spec, "config", "spec.config", false)
	if cfg == nil {
		r.Fail("spec.config", "is required: the Kafka Broker reads its topic settings from the ConfigMap it names "+
			"(Knative would default it from config-br-defaults, which the local runtime does not have)")
	} else {
		b.Config = r.reference(cfg, "spec.config", b.Namespace)
		if b.Config.Kind != "" && !strings.EqualFold(b.Config.Kind, "ConfigMap") {
			r.Fail("spec.config.kind", "invalid value: %s (Expected ConfigMap)", b.Config.Kind)
		}
	}
	if del := r.Object(spec, "delivery", "spec.delivery", false); del != nil {
		b.Delivery = r.delivery(del, "spec.delivery", b.Namespace)
	}
	return b
}

func (r *reader) trigger(top map[string]any) Trigger {
	t := Trigger{File: r.File, Ordering: DefaultOrdering}
	var ann map[string]string
	t.Name, t.Namespace, ann = r.meta(top)
	spec := r.Object(top, "spec", "spec", true)
	r.Known(spec, "spec", "broker", "brokerRef", "filter", "filters", "subscriber", "delivery")

	t.Broker = r.String(spec, "broker", "spec.broker", false)
	if ref := r.Object(spec, "brokerRef", "spec.brokerRef", false); ref != nil {
		if t.Broker != "" {
			r.Fail("spec.broker, spec.brokerRef", "expected exactly one, got both")
		}
		br := r.reference(ref, "spec.brokerRef", "")
		if br.Namespace != "" {
			r.Fail("spec.brokerRef.namespace", "must not set the field(s) (cross-namespace-event-links is disabled)")
		}
		if br.Kind != "" && br.Kind != BrokerKind {
			r.Fail("spec.brokerRef.kind", "invalid value: %s (Expected %s)", br.Kind, BrokerKind)
		}
		t.Broker = br.Name
	} else if t.Broker == "" {
		r.Fail("spec.broker", "missing field(s)")
	}

	switch order := strings.ToLower(ann[DeliveryOrderAnnotation]); order {
	case "":
	case string(source.Ordered), string(source.Unordered):
		t.Ordering = source.Ordering(order)
	default:
		// Not a webhook rule: the Kafka controller refuses it and the
		// Trigger never becomes ready.
		r.Fail("metadata.annotations."+DeliveryOrderAnnotation,
			`invalid annotation value %q: allowed values [ "ordered" | "unordered" ]`, ann[DeliveryOrderAnnotation])
	}
	if dep, ok := ann[DependencyAnnotation]; ok {
		r.dependency(dep, t.Namespace)
	}
	if inj, ok := ann[InjectionAnnotation]; ok {
		field := "metadata.annotations." + InjectionAnnotation
		switch {
		case inj != "enabled" && inj != "disabled":
			r.Fail(field, "invalid value: %s (expected enabled or disabled)", inj)
		case t.Broker != "default":
			r.Fail(field, `invalid value: %s (the annotation is only valid with spec.broker "default")`, inj)
		}
	}

	var attributes map[string]string
	if filter := r.Object(spec, "filter", "spec.filter", false); filter != nil {
		r.Known(filter, "spec.filter", "attributes")
		attributes = r.StringMap(filter, "attributes", "spec.filter.attributes")
		r.attrKeys(attributes, "spec.filter.attributes")
	}
	var filters []FilterSpec
	if v, ok := spec["filters"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			r.Fail("spec.filters", "must be a list, not %s", kobject.Describe(v))
		}
		for i, item := range list {
			filters = append(filters, r.filterSpec(item, fmt.Sprintf("spec.filters[%d]", i)))
		}
	}
	if !r.Failed() {
		f, err := NewFilter(attributes, filters)
		if err != nil {
			r.Fail("spec.filters", "%v", err)
		}
		t.Filter = f
	}

	if sub := r.Object(spec, "subscriber", "spec.subscriber", false); sub != nil {
		t.Subscriber = r.destination(sub, "spec.subscriber", t.Namespace)
	} else {
		r.Fail("spec.subscriber.ref, spec.subscriber.uri", "expected at least one, got none")
	}
	if del := r.Object(spec, "delivery", "spec.delivery", false); del != nil {
		t.Delivery = r.delivery(del, "spec.delivery", t.Namespace)
	}
	return t
}

func (r *reader) attrKeys(m map[string]string, path string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !attrName.MatchString(k) {
			r.Fail(path+"["+k+"]", "invalid key name %q: Attribute name must start with a letter and can only contain lowercase alphanumeric", k)
		}
	}
}

// filterSpec reads one element of spec.filters (or of an all, any or not
// within it) with the webhook's checks.
func (r *reader) filterSpec(v any, path string) FilterSpec {
	var s FilterSpec
	if v == nil {
		return s
	}
	m, ok := v.(map[string]any)
	if !ok {
		r.Fail(path, "must be an object, not %s", kobject.Describe(v))
		return s
	}
	r.Known(m, path, "exact", "prefix", "suffix", "all", "any", "not", "cesql")
	for _, d := range []struct {
		name string
		into *map[string]string
	}{{"exact", &s.Exact}, {"prefix", &s.Prefix}, {"suffix", &s.Suffix}} {
		*d.into = r.StringMap(m, d.name, path+"."+d.name)
		r.attrKeys(*d.into, path+"."+d.name)
	}
	for _, d := range []struct {
		name string
		into *[]FilterSpec
	}{{"all", &s.All}, {"any", &s.Any}} {
		lv, ok := m[d.name]
		if !ok || lv == nil {
			continue
		}
		list, ok := lv.([]any)
		if !ok {
			r.Fail(path+"."+d.name, "must be a list, not %s", kobject.Describe(lv))
			continue
		}
		for i, item := range list {
			*d.into = append(*d.into, r.filterSpec(item, fmt.Sprintf("%s.%s[%d]", path, d.name, i)))
		}
	}
	if nv, ok := m["not"]; ok && nv != nil {
		n := r.filterSpec(nv, path+".not")
		s.Not = &n
	}
	s.CESQL = r.String(m, "cesql", path+".cesql", false)
	if s.CESQL != "" {
		if _, err := ParseCESQL(s.CESQL); err != nil {
			r.Fail(path+".cesql", "invalid value: %s (%v)", s.CESQL, err)
		}
	}
	if ds := s.dialects(); len(ds) > 1 {
		r.Fail(path, "multiple dialects found, filters can have only one dialect set (%s)", strings.Join(ds, ", "))
	}
	return s
}

// dependency checks the knative.dev/dependency annotation: a JSON object
// reference with kind, name and apiVersion, in the Trigger's namespace.
func (r *reader) dependency(v, namespace string) {
	field := "metadata.annotations." + DependencyAnnotation
	var ref struct {
		Kind       string `json:"kind"`
		Name       string `json:"name"`
		APIVersion string `json:"apiVersion"`
		Namespace  string `json:"namespace"`
	}
	if err := json.Unmarshal([]byte(v), &ref); err != nil {
		r.Fail(field, "invalid value: %s (not a JSON object reference: %v)", v, err)
		return
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"kind", ref.Kind}, {"name", ref.Name}, {"apiVersion", ref.APIVersion}} {
		if f.v == "" {
			missing = append(missing, field+"."+f.name)
		}
	}
	if len(missing) > 0 {
		r.Fail(strings.Join(missing, ", "), "missing field(s)")
	}
	if ref.Namespace != "" && ref.Namespace != namespace {
		r.Fail(field+".namespace", "Namespace must be empty or equal to the trigger namespace %q", namespace)
	}
}

// reference reads a KReference: apiVersion, kind and name are required;
// namespace defaults to def.
func (r *reader) reference(m map[string]any, path, def string) source.Reference {
	r.Known(m, path, "apiVersion", "kind", "name", "namespace", "group", "address")
	ref := source.Reference{
		APIVersion: r.String(m, "apiVersion", path+".apiVersion", false),
		Kind:       r.String(m, "kind", path+".kind", false),
		Name:       r.String(m, "name", path+".name", false),
		Namespace:  r.String(m, "namespace", path+".namespace", false),
	}
	if g := r.String(m, "group", path+".group", false); g != "" {
		// The kreference-group feature is disabled by default.
		r.Fail(path+".group", "must not set the field(s)")
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"apiVersion", ref.APIVersion}, {"kind", ref.Kind}, {"name", ref.Name}} {
		if f.v == "" {
			missing = append(missing, path+"."+f.name)
		}
	}
	if len(missing) > 0 {
		r.Fail(strings.Join(missing, ", "), "missing field(s)")
	}
	if ref.Namespace == "" {
		ref.Namespace = def
	}
	return ref
}

// destination reads a duck Destination with ValidateDestination's rules;
// a ref's namespace defaults to namespace and must equal it
// (cross-namespace references are disabled).
func (r *reader) destination(m map[string]any, path, namespace string) source.Destination {
	r.Known(m, path, "ref", "uri", "CACerts", "audience")
	var d source.Destination
	if ref := r.Object(m, "ref", path+".ref", false); ref != nil {
		rf := r.reference(ref, path+".ref", namespace)
		if rf.Namespace != namespace {
			r.Fail(path+".ref.namespace", "mismatched namespaces: %q, want the object's %q (cross-namespace references are disabled)", rf.Namespace, namespace)
		}
		d.Ref = &rf
	}
	if raw := r.String(m, "uri", path+".uri", false); raw != "" {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			r.Fail(path+".uri", "invalid value: %s (not a URI)", raw)
		case d.Ref == nil && (!u.IsAbs() || u.Host == ""):
			r.Fail(path+".uri", "invalid value: %s (an absolute URI with a host is required without a ref)", raw)
		case d.Ref != nil && u.IsAbs():
			r.Fail(path+".ref, "+path+".uri", "Absolute URI is not allowed when Ref or [apiVersion, kind, name] is present")
		default:
			d.URI = u
		}
	}
	if d.Ref == nil && d.URI == nil && !r.Failed() {
		r.Fail(path+".ref, "+path+".uri", "expected at least one, got none")
	}
	if ca := r.String(m, "CACerts", path+".CACerts", false); ca != "" {
		if b, _ := pem.Decode([]byte(ca)); b == nil || b.Type != "CERTIFICATE" {
			r.Fail(path+".CACerts", "invalid value: not a PEM CERTIFICATE")
		}
	}
	d.Audience = r.String(m, "audience", path+".audience", false)
	return d
}

// delivery reads a DeliverySpec with the webhook's checks; the features
// are eventing's defaults (delivery-timeout enabled, delivery-retryafter
// disabled).
func (r *reader) delivery(m map[string]any, path, namespace string) *DeliverySpec {
	r.Known(m, path, "deadLetterSink", "retry", "backoffPolicy", "backoffDelay", "timeout", "retryAfterMax", "format")
	d := &DeliverySpec{}
	if dls := r.Object(m, "deadLetterSink", path+".deadLetterSink", false); dls != nil {
		dest := r.destination(dls, path+".deadLetterSink", namespace)
		d.DeadLetterSink = &dest
	}
	if v, ok := m["retry"]; ok && v != nil {
		f, ok := v.(float64)
		switch {
		case !ok || f != math.Trunc(f) || f > math.MaxInt32:
			r.Fail(path+".retry", "must be an integer, not %s", kobject.Describe(v))
		case f < 0:
			r.Fail(path+".retry", "invalid value: %d (must not be negative)", int64(f))
		default:
			n := int32(f)
			d.Retry = &n
		}
	}
	if p := r.String(m, "backoffPolicy", path+".backoffPolicy", false); p != "" {
		if p != string(source.BackoffLinear) && p != string(source.BackoffExponential) {
			r.Fail(path+".backoffPolicy", "invalid value: %s (linear or exponential)", p)
		} else {
			bp := source.BackoffPolicy(p)
			d.BackoffPolicy = &bp
		}
	}
	if v, ok := r.Duration(m, "backoffDelay", path+".backoffDelay"); ok {
		d.BackoffDelay = &v
	}
	if v, ok := r.Duration(m, "timeout", path+".timeout"); ok {
		if v == 0 {
			r.Fail(path+".timeout", "invalid value: must be more than zero")
		}
		d.Timeout = &v
	}
	if _, ok := m["retryAfterMax"]; ok {
		r.Fail(path+".retryAfterMax", "must not set the field(s) (the delivery-retryafter feature is disabled)")
	}
	if f := r.String(m, "format", path+".format", false); f != "" && f != "json" && f != "binary" {
		r.Fail(path+".format", "invalid value: %s (json or binary)", f)
	}
	return d
}

// reader walks one decoded Broker or Trigger.
type reader struct{ kobject.Reader }
