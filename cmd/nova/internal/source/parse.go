package source

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/cmd/nova/internal/kobject"
	"github.com/nova-social/nova/shared/event/kafka"
)

// ErrMalformed is matched (errors.Is) by every refusal of Parse and LoadDir.
var ErrMalformed = errors.New("malformed KafkaSource")

// Error is a KafkaSource the reader refuses: the file, the document within
// it, the field path and why. It unwraps to ErrMalformed.
type Error = kobject.Error

// LoadDir reads every .yaml and .yml file under dir (recursively, in lexical
// order) and returns the KafkaSources they hold. Other kinds (KafkaTopic,
// ConfigMap, Kustomization, PrometheusRule, Deployment, …) are skipped. Any
// malformed KafkaSource, or two with the same namespace and name, fails the
// whole load; the error joins one *Error per fault.
func LoadDir(dir string) ([]KafkaSource, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read manifests in %s: %w", dir, err)
	}
	sort.Strings(files)
	var (
		all  []KafkaSource
		errs []error
		seen = map[string]string{}
	)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", f, err))
			continue
		}
		srcs, err := Parse(f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range srcs {
			if prev, ok := seen[s.Ref()]; ok {
				errs = append(errs, &Error{File: f, Field: "metadata.name",
					Reason: fmt.Sprintf("KafkaSource %s is also defined in %s", s.Ref(), prev), Kind: ErrMalformed})
				continue
			}
			seen[s.Ref()] = f
			all = append(all, s)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return all, nil
}

// Parse reads the KafkaSources of one (possibly multi-document) YAML file;
// file names it in errors. Documents of other kinds, empty documents and
// documents that are not objects are skipped. The error joins one *Error per
// malformed KafkaSource.
func Parse(file string, data []byte) ([]KafkaSource, error) {
	var (
		out  []KafkaSource
		errs []error
	)
	for i, doc := range kobject.Documents(data) {
		s, ok, err := parseDocument(file, i+1, doc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, s)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// doc walks one decoded KafkaSource.
type doc struct{ kobject.Reader }

func parseDocument(file string, index int, data []byte) (KafkaSource, bool, error) {
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return KafkaSource{}, false, &Error{File: file, Document: index, Reason: "invalid YAML: " + err.Error(), Kind: ErrMalformed}
	}
	top, ok := raw.(map[string]any)
	if !ok {
		return KafkaSource{}, false, nil
	}
	kind, _ := top["kind"].(string)
	if kind != Kind {
		return KafkaSource{}, false, nil
	}
	d := &doc{kobject.Reader{File: file, Document: index, Kind: ErrMalformed}}
	if av, _ := top["apiVersion"].(string); av != APIVersion {
		d.Fail("apiVersion", "%q is not %s (the only KafkaSource version read)", fmt.Sprint(top["apiVersion"]), APIVersion)
		return KafkaSource{}, false, d.Err()
	}
	s := KafkaSource{File: file}
	meta := d.Object(top, "metadata", "metadata", true)
	s.Name = d.String(meta, "name", "metadata.name", true)
	if s.Name != "" && !dnsLabel.MatchString(s.Name) {
		d.Fail("metadata.name", "%q is not a valid name (lower-case letters, digits and '-')", s.Name)
	}
	s.Namespace = d.String(meta, "namespace", "metadata.namespace", false)
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	s.Labels = d.StringMap(meta, "labels", "metadata.labels")

	spec := d.Object(top, "spec", "spec", true)
	d.Known(spec, "spec", "bootstrapServers", "topics", "consumerGroup", "initialOffset", "ordering",
		"delivery", "sink", "net", "consumers", "ceOverrides")
	for _, b := range d.Strings(spec, "bootstrapServers", "spec.bootstrapServers", true) {
		// An entry may itself be a comma-separated list, as the
		// dispatcher's client takes it.
		s.BootstrapServers = append(s.BootstrapServers, kafka.ParseBrokers(b)...)
	}
	s.Topics = d.Strings(spec, "topics", "spec.topics", true)
	s.ConsumerGroup = d.String(spec, "consumerGroup", "spec.consumerGroup", false)
	if s.ConsumerGroup == "" {
		s.ConsumerGroup = "knative-kafka-source-" + s.Namespace + "-" + s.Name
	}
	s.InitialOffset = InitialOffset(d.Enum(spec, "initialOffset", "spec.initialOffset", string(DefaultInitialOffset),
		string(OffsetEarliest), string(OffsetLatest)))
	s.Ordering = Ordering(d.Enum(spec, "ordering", "spec.ordering", string(DefaultOrdering),
		string(Ordered), string(Unordered)))
	s.Consumers = int32(d.Integer(spec, "consumers", "spec.consumers", 1, 1))
	if ce := d.Object(spec, "ceOverrides", "spec.ceOverrides", false); ce != nil {
		d.Known(ce, "spec.ceOverrides", "extensions")
		s.Extensions = d.StringMap(ce, "extensions", "spec.ceOverrides.extensions")
		for k := range s.Extensions {
			if !extName.MatchString(k) {
				d.Fail("spec.ceOverrides.extensions."+k, "%q is not a CloudEvents extension name (lower-case letters and digits)", k)
			}
		}
	}
	if sink := d.Object(spec, "sink", "spec.sink", true); sink != nil {
		s.Sink = d.destination(sink, "spec.sink", s.Namespace)
	}
	s.Delivery = Delivery{
		BackoffPolicy: DefaultBackoffPolicy,
		BackoffDelay:  DefaultBackoffDelay,
		Timeout:       DefaultTimeout,
	}
	if del := d.Object(spec, "delivery", "spec.delivery", false); del != nil {
		d.Known(del, "spec.delivery", "retry", "backoffPolicy", "backoffDelay", "deadLetterSink", "timeout",
			"retryAfterMax", "format")
		s.Delivery.Retry = int32(d.Integer(del, "retry", "spec.delivery.retry", 0, 0))
		s.Delivery.BackoffPolicy = BackoffPolicy(d.Enum(del, "backoffPolicy", "spec.delivery.backoffPolicy",
			string(DefaultBackoffPolicy), string(BackoffLinear), string(BackoffExponential)))
		if v, ok := d.Duration(del, "backoffDelay", "spec.delivery.backoffDelay"); ok {
			s.Delivery.BackoffDelay = v
		}
		if v, ok := d.Duration(del, "timeout", "spec.delivery.timeout"); ok {
			if v == 0 {
				d.Fail("spec.delivery.timeout", "invalid value: must be more than zero")
			}
			s.Delivery.Timeout = v
		}
		d.Duration(del, "retryAfterMax", "spec.delivery.retryAfterMax")
		d.Enum(del, "format", "spec.delivery.format", "", "binary", "json")
		if dls := d.Object(del, "deadLetterSink", "spec.delivery.deadLetterSink", false); dls != nil {
			dest := d.destination(dls, "spec.delivery.deadLetterSink", s.Namespace)
			s.Delivery.DeadLetterSink = &dest
		}
	}
	if net := d.Object(spec, "net", "spec.net", false); net != nil {
		s.Net = d.net(net)
	}
	if err := d.Err(); err != nil {
		return KafkaSource{}, false, err
	}
	return s, true, nil
}

// net reads spec.net as the KafkaSource CRD has it: enable flags, and
// every credential a secretKeyRef.
func (d *doc) net(m map[string]any) Net {
	var n Net
	ref := func(parent map[string]any, key, path string) SecretKeyRef {
		o := d.Object(parent, key, path, false)
		if o == nil {
			return SecretKeyRef{}
		}
		d.Known(o, path, "secretKeyRef")
		skr := d.Object(o, "secretKeyRef", path+".secretKeyRef", true)
		if skr == nil {
			return SecretKeyRef{}
		}
		d.Known(skr, path+".secretKeyRef", "name", "key", "optional")
		return SecretKeyRef{
			Name: d.String(skr, "name", path+".secretKeyRef.name", true),
			Key:  d.String(skr, "key", path+".secretKeyRef.key", true),
		}
	}
	enabled := func(parent map[string]any, path string) bool {
		v, ok := parent["enable"]
		if !ok {
			return false
		}
		b, isBool := v.(bool)
		if !isBool {
			d.Fail(path+".enable", "%v is not a boolean", v)
		}
		return b
	}
	d.Known(m, "spec.net", "sasl", "tls")
	if sasl := d.Object(m, "sasl", "spec.net.sasl", false); sasl != nil {
		d.Known(sasl, "spec.net.sasl", "enable", "user", "password", "type")
		n.SASL = enabled(sasl, "spec.net.sasl")
		n.SASLUser = ref(sasl, "user", "spec.net.sasl.user")
		n.SASLPassword = ref(sasl, "password", "spec.net.sasl.password")
		n.SASLType = ref(sasl, "type", "spec.net.sasl.type")
		if n.SASL && (n.SASLUser.Name == "" || n.SASLPassword.Name == "") {
			d.Fail("spec.net.sasl", "enabled without user and password secretKeyRefs")
		}
	}
	if tls := d.Object(m, "tls", "spec.net.tls", false); tls != nil {
		d.Known(tls, "spec.net.tls", "enable", "caCert", "cert", "key")
		n.TLS = enabled(tls, "spec.net.tls")
		n.CACert = ref(tls, "caCert", "spec.net.tls.caCert")
		n.Cert = ref(tls, "cert", "spec.net.tls.cert")
		n.Key = ref(tls, "key", "spec.net.tls.key")
		if (n.Cert.Name == "") != (n.Key.Name == "") {
			d.Fail("spec.net.tls", "cert and key go together")
		}
	}
	return n
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	extName  = regexp.MustCompile(`^[a-z0-9]+$`)
)

func (d *doc) destination(m map[string]any, path, namespace string) Destination {
	d.Known(m, path, "ref", "uri", "CACerts", "audience")
	var dest Destination
	if ref := d.Object(m, "ref", path+".ref", false); ref != nil {
		d.Known(ref, path+".ref", "apiVersion", "kind", "name", "namespace", "group", "address")
		r := Reference{
			APIVersion: d.String(ref, "apiVersion", path+".ref.apiVersion", false),
			Kind:       d.String(ref, "kind", path+".ref.kind", true),
			Name:       d.String(ref, "name", path+".ref.name", true),
			Namespace:  d.String(ref, "namespace", path+".ref.namespace", false),
		}
		if r.APIVersion == "" {
			if g := d.String(ref, "group", path+".ref.group", false); g == "" {
				d.Fail(path+".ref.apiVersion", "missing field(s)")
			}
		}
		if r.Namespace == "" {
			r.Namespace = namespace
		}
		dest.Ref = &r
	}
	if raw := d.String(m, "uri", path+".uri", false); raw != "" {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			d.Fail(path+".uri", "%q is not a URI", raw)
		case dest.Ref == nil && (!u.IsAbs() || u.Host == ""):
			d.Fail(path+".uri", "%q must be an absolute URI when no ref is given", raw)
		case dest.Ref != nil && u.IsAbs():
			d.Fail(path+".uri", "%q must be relative when a ref is given", raw)
		default:
			dest.URI = u
		}
	}
	if dest.Ref == nil && dest.URI == nil && !d.Failed() {
		d.Fail(path, "needs a ref or a uri")
	}
	dest.Audience = d.String(m, "audience", path+".audience", false)
	return dest
}
