package eventbroker

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/shared/source"
)

// ErrInvalid is matched (errors.Is) by every *Error.
var ErrInvalid = errors.New("invalid Broker or Trigger")

// Error is a Broker or Trigger the reader refuses: the file, the document
// within it (1-based, shown past the first), the object, the field path and
// why (in the words of Knative's webhook where it has them).
type Error struct {
	File     string
	Document int
	// Object is "<Kind> <namespace>/<name>", or the kind alone while the
	// name is unknown.
	Object string
	Field  string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Document > 1 {
		fmt.Fprintf(&b, " (document %d)", e.Document)
	}
	b.WriteString(": ")
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) recognise a refused object.
func (e *Error) Unwrap() error { return ErrInvalid }

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
	for i, doc := range splitDocuments(data) {
		var raw any
		if err := yaml.Unmarshal(doc, &raw); err != nil {
			errs = append(errs, &Error{File: file, Document: i + 1, Reason: "invalid YAML: " + err.Error()})
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
		r := &reader{file: file, index: i + 1, what: kind}
		if av, _ := top["apiVersion"].(string); av != APIVersion {
			r.fail("apiVersion", "%q is not %s (the only %s version read)", fmt.Sprint(top["apiVersion"]), APIVersion, kind)
			errs = append(errs, r.err)
			continue
		}
		if kind == BrokerKind {
			b := r.broker(top)
			if r.err != nil {
				errs = append(errs, r.err)
				continue
			}
			brokers = append(brokers, b)
			continue
		}
		t := r.trigger(top)
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		triggers = append(triggers, t)
	}
	return brokers, triggers, errors.Join(errs...)
}

// splitDocuments cuts a YAML stream at its "---" separators.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur []byte
	for _, line := range strings.SplitAfter(string(data), "\n") {
		t := strings.TrimRight(line, " \t\r\n")
		if t == "---" || strings.HasPrefix(t, "--- ") || t == "..." {
			docs = append(docs, cur)
			cur = nil
			continue
		}
		cur = append(cur, line...)
	}
	return append(docs, cur)
}

var (
	dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	// attrName is the eventing webhook's rule for filter attribute names.
	attrName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
)

func (r *reader) meta(top map[string]any) (name, namespace string, annotations map[string]string) {
	meta := r.object(top, "metadata", "metadata", true)
	name = r.str(meta, "name", "metadata.name", true)
	if name != "" && !dnsName.MatchString(name) {
		r.fail("metadata.name", "%q is not a valid name (lower-case letters, digits, '-' and '.')", name)
	}
	namespace = r.str(meta, "namespace", "metadata.namespace", false)
	if namespace == "" {
		namespace = DefaultNamespace
	}
	if name != "" && r.err == nil {
		r.what += " " + namespace + "/" + name
	}
	return name, namespace, r.stringMap(meta, "annotations", "metadata.annotations")
}

func (r *reader) broker(top map[string]any) Broker {
	b := Broker{File: r.file}
	var ann map[string]string
	b.Name, b.Namespace, ann = r.meta(top)
	classField := "metadata.annotations." + ClassAnnotation
	switch class := ann[ClassAnnotation]; {
	case class == "":
		// The defaulting webhook would take a class from config-br-defaults,
		// which the local runtime does not have; the class says which
		// Broker this is, so it is required.
		r.fail(classField, "missing field(s): the Broker class is required (%s)", KafkaClass)
	case class != KafkaClass:
		r.fail(classField, "class %q is not emulated locally: only the Kafka Broker (%s) is", class, KafkaClass)
	}
	b.ExternalTopic = ann[ExternalTopicAnnotation]
	spec := r.object(top, "spec", "spec", false)
	r.known(spec, "spec", "config", "delivery")
	cfg := r.object(spec, "config", "spec.config", false)
	if cfg == nil {
		r.fail("spec.config", "is required: the Kafka Broker reads its topic settings from the ConfigMap it names "+
			"(Knative would default it from config-br-defaults, which the local runtime does not have)")
	} else {
		b.Config = r.reference(cfg, "spec.config", b.Namespace)
		if b.Config.Kind != "" && !strings.EqualFold(b.Config.Kind, "ConfigMap") {
			r.fail("spec.config.kind", "invalid value: %s (Expected ConfigMap)", b.Config.Kind)
		}
	}
	if del := r.object(spec, "delivery", "spec.delivery", false); del != nil {
		b.Delivery = r.delivery(del, "spec.delivery", b.Namespace)
	}
	return b
}

func (r *reader) trigger(top map[string]any) Trigger {
	t := Trigger{File: r.file, Ordering: DefaultOrdering}
	var ann map[string]string
	t.Name, t.Namespace, ann = r.meta(top)
	spec := r.object(top, "spec", "spec", true)
	r.known(spec, "spec", "broker", "brokerRef", "filter", "filters", "subscriber", "delivery")

	t.Broker = r.str(spec, "broker", "spec.broker", false)
	if ref := r.object(spec, "brokerRef", "spec.brokerRef", false); ref != nil {
		if t.Broker != "" {
			r.fail("spec.broker, spec.brokerRef", "expected exactly one, got both")
		}
		br := r.reference(ref, "spec.brokerRef", "")
		if br.Namespace != "" {
			r.fail("spec.brokerRef.namespace", "must not set the field(s) (cross-namespace-event-links is disabled)")
		}
		if br.Kind != "" && br.Kind != BrokerKind {
			r.fail("spec.brokerRef.kind", "invalid value: %s (Expected %s)", br.Kind, BrokerKind)
		}
		t.Broker = br.Name
	} else if t.Broker == "" {
		r.fail("spec.broker", "missing field(s)")
	}

	switch order := strings.ToLower(ann[DeliveryOrderAnnotation]); order {
	case "":
	case string(source.Ordered), string(source.Unordered):
		t.Ordering = source.Ordering(order)
	default:
		// Not a webhook rule: the Kafka controller refuses it and the
		// Trigger never becomes ready.
		r.fail("metadata.annotations."+DeliveryOrderAnnotation,
			`invalid annotation value %q: allowed values [ "ordered" | "unordered" ]`, ann[DeliveryOrderAnnotation])
	}
	if dep, ok := ann[DependencyAnnotation]; ok {
		r.dependency(dep, t.Namespace)
	}
	if inj, ok := ann[InjectionAnnotation]; ok {
		field := "metadata.annotations." + InjectionAnnotation
		switch {
		case inj != "enabled" && inj != "disabled":
			r.fail(field, "invalid value: %s (expected enabled or disabled)", inj)
		case t.Broker != "default":
			r.fail(field, `invalid value: %s (the annotation is only valid with spec.broker "default")`, inj)
		}
	}

	var attributes map[string]string
	if filter := r.object(spec, "filter", "spec.filter", false); filter != nil {
		r.known(filter, "spec.filter", "attributes")
		attributes = r.stringMap(filter, "attributes", "spec.filter.attributes")
		r.attrKeys(attributes, "spec.filter.attributes")
	}
	var filters []FilterSpec
	if v, ok := spec["filters"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			r.fail("spec.filters", "must be a list, not %s", describe(v))
		}
		for i, item := range list {
			filters = append(filters, r.filterSpec(item, fmt.Sprintf("spec.filters[%d]", i)))
		}
	}
	if r.err == nil {
		f, err := NewFilter(attributes, filters)
		if err != nil {
			r.fail("spec.filters", "%v", err)
		}
		t.Filter = f
	}

	if sub := r.object(spec, "subscriber", "spec.subscriber", false); sub != nil {
		t.Subscriber = r.destination(sub, "spec.subscriber", t.Namespace)
	} else {
		r.fail("spec.subscriber.ref, spec.subscriber.uri", "expected at least one, got none")
	}
	if del := r.object(spec, "delivery", "spec.delivery", false); del != nil {
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
			r.fail(path+"["+k+"]", "invalid key name %q: Attribute name must start with a letter and can only contain lowercase alphanumeric", k)
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
		r.fail(path, "must be an object, not %s", describe(v))
		return s
	}
	r.known(m, path, "exact", "prefix", "suffix", "all", "any", "not", "cesql")
	for _, d := range []struct {
		name string
		into *map[string]string
	}{{"exact", &s.Exact}, {"prefix", &s.Prefix}, {"suffix", &s.Suffix}} {
		*d.into = r.stringMap(m, d.name, path+"."+d.name)
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
			r.fail(path+"."+d.name, "must be a list, not %s", describe(lv))
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
	s.CESQL = r.str(m, "cesql", path+".cesql", false)
	if s.CESQL != "" {
		if _, err := ParseCESQL(s.CESQL); err != nil {
			r.fail(path+".cesql", "invalid value: %s (%v)", s.CESQL, err)
		}
	}
	if ds := s.dialects(); len(ds) > 1 {
		r.fail(path, "multiple dialects found, filters can have only one dialect set (%s)", strings.Join(ds, ", "))
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
		r.fail(field, "invalid value: %s (not a JSON object reference: %v)", v, err)
		return
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"kind", ref.Kind}, {"name", ref.Name}, {"apiVersion", ref.APIVersion}} {
		if f.v == "" {
			missing = append(missing, field+"."+f.name)
		}
	}
	if len(missing) > 0 {
		r.fail(strings.Join(missing, ", "), "missing field(s)")
	}
	if ref.Namespace != "" && ref.Namespace != namespace {
		r.fail(field+".namespace", "Namespace must be empty or equal to the trigger namespace %q", namespace)
	}
}

// reference reads a KReference: apiVersion, kind and name are required;
// namespace defaults to def.
func (r *reader) reference(m map[string]any, path, def string) source.Reference {
	r.known(m, path, "apiVersion", "kind", "name", "namespace", "group", "address")
	ref := source.Reference{
		APIVersion: r.str(m, "apiVersion", path+".apiVersion", false),
		Kind:       r.str(m, "kind", path+".kind", false),
		Name:       r.str(m, "name", path+".name", false),
		Namespace:  r.str(m, "namespace", path+".namespace", false),
	}
	if g := r.str(m, "group", path+".group", false); g != "" {
		// The kreference-group feature is disabled by default.
		r.fail(path+".group", "must not set the field(s)")
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"apiVersion", ref.APIVersion}, {"kind", ref.Kind}, {"name", ref.Name}} {
		if f.v == "" {
			missing = append(missing, path+"."+f.name)
		}
	}
	if len(missing) > 0 {
		r.fail(strings.Join(missing, ", "), "missing field(s)")
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
	r.known(m, path, "ref", "uri", "CACerts", "audience")
	var d source.Destination
	if ref := r.object(m, "ref", path+".ref", false); ref != nil {
		rf := r.reference(ref, path+".ref", namespace)
		if rf.Namespace != namespace {
			r.fail(path+".ref.namespace", "mismatched namespaces: %q, want the object's %q (cross-namespace references are disabled)", rf.Namespace, namespace)
		}
		d.Ref = &rf
	}
	if raw := r.str(m, "uri", path+".uri", false); raw != "" {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			r.fail(path+".uri", "invalid value: %s (not a URI)", raw)
		case d.Ref == nil && (!u.IsAbs() || u.Host == ""):
			r.fail(path+".uri", "invalid value: %s (an absolute URI with a host is required without a ref)", raw)
		case d.Ref != nil && u.IsAbs():
			r.fail(path+".ref, "+path+".uri", "Absolute URI is not allowed when Ref or [apiVersion, kind, name] is present")
		default:
			d.URI = u
		}
	}
	if d.Ref == nil && d.URI == nil && r.err == nil {
		r.fail(path+".ref, "+path+".uri", "expected at least one, got none")
	}
	if ca := r.str(m, "CACerts", path+".CACerts", false); ca != "" {
		if b, _ := pem.Decode([]byte(ca)); b == nil || b.Type != "CERTIFICATE" {
			r.fail(path+".CACerts", "invalid value: not a PEM CERTIFICATE")
		}
	}
	return d
}

// delivery reads a DeliverySpec with the webhook's checks; the features
// are eventing's defaults (delivery-timeout enabled, delivery-retryafter
// disabled).
func (r *reader) delivery(m map[string]any, path, namespace string) *DeliverySpec {
	r.known(m, path, "deadLetterSink", "retry", "backoffPolicy", "backoffDelay", "timeout", "retryAfterMax", "format")
	d := &DeliverySpec{}
	if dls := r.object(m, "deadLetterSink", path+".deadLetterSink", false); dls != nil {
		dest := r.destination(dls, path+".deadLetterSink", namespace)
		d.DeadLetterSink = &dest
	}
	if v, ok := m["retry"]; ok && v != nil {
		f, ok := v.(float64)
		switch {
		case !ok || f != math.Trunc(f) || f > math.MaxInt32:
			r.fail(path+".retry", "must be an integer, not %s", describe(v))
		case f < 0:
			r.fail(path+".retry", "invalid value: %d (must not be negative)", int64(f))
		default:
			n := int32(f)
			d.Retry = &n
		}
	}
	if p := r.str(m, "backoffPolicy", path+".backoffPolicy", false); p != "" {
		if p != string(source.BackoffLinear) && p != string(source.BackoffExponential) {
			r.fail(path+".backoffPolicy", "invalid value: %s (linear or exponential)", p)
		} else {
			bp := source.BackoffPolicy(p)
			d.BackoffPolicy = &bp
		}
	}
	if v, ok := r.duration(m, "backoffDelay", path+".backoffDelay"); ok {
		d.BackoffDelay = &v
	}
	if v, ok := r.duration(m, "timeout", path+".timeout"); ok {
		if v == 0 {
			r.fail(path+".timeout", "invalid value: must be more than zero")
		}
		d.Timeout = &v
	}
	if _, ok := m["retryAfterMax"]; ok {
		r.fail(path+".retryAfterMax", "must not set the field(s) (the delivery-retryafter feature is disabled)")
	}
	if f := r.str(m, "format", path+".format", false); f != "" && f != "json" && f != "binary" {
		r.fail(path+".format", "invalid value: %s (json or binary)", f)
	}
	return d
}

// reader walks one decoded document, remembering the first fault.
type reader struct {
	file  string
	index int
	what  string // the object, for messages
	err   *Error
}

func (r *reader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = &Error{File: r.file, Document: r.index, Object: r.what, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
}

// known refuses fields that are not in names, as the API server's strict
// field validation does: a misspelt field must not silently fall back to a
// default.
func (r *reader) known(m map[string]any, path string, names ...string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(names, k) {
			r.fail(path+"."+k, "unknown field")
		}
	}
}

func (r *reader) object(m map[string]any, key, path string, required bool) map[string]any {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			r.fail(path, "missing field(s)")
		}
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		r.fail(path, "must be an object, not %s", describe(v))
		return nil
	}
	return o
}

func (r *reader) str(m map[string]any, key, path string, required bool) string {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			r.fail(path, "missing field(s)")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fail(path, "must be a string, not %s", describe(v))
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		r.fail(path, "missing field(s)")
	}
	return s
}

func (r *reader) stringMap(m map[string]any, key, path string) map[string]string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		r.fail(path, "must be a map of strings, not %s", describe(v))
		return nil
	}
	out := make(map[string]string, len(o))
	for k, item := range o {
		s, ok := item.(string)
		if !ok {
			r.fail(path+"."+k, "must be a string, not %s", describe(item))
			continue
		}
		out[k] = s
	}
	return out
}

// duration reads the ISO-8601 duration at key; ok is false when it is
// absent or malformed.
func (r *reader) duration(m map[string]any, key, path string) (time.Duration, bool) {
	s := r.str(m, key, path, false)
	if s == "" {
		return 0, false
	}
	v, err := source.ParseDuration(s)
	if err != nil {
		r.fail(path, "invalid value: %s (%v)", s, err)
		return 0, false
	}
	return v, true
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	case float64, bool:
		return fmt.Sprint(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
