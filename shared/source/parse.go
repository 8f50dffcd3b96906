package source

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// ErrMalformed is matched (errors.Is) by every *Error.
var ErrMalformed = errors.New("malformed KafkaSource")

// Error is a KafkaSource the reader refuses: the file, the document within it
// (1-based, only shown past the first), the field path and why.
type Error struct {
	File     string
	Document int
	Field    string
	Reason   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Document > 1 {
		fmt.Fprintf(&b, " (document %d)", e.Document)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap lets errors.Is(err, ErrMalformed) recognise a refused manifest.
func (e *Error) Unwrap() error { return ErrMalformed }

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
					Reason: fmt.Sprintf("KafkaSource %s is also defined in %s", s.Ref(), prev)})
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
	for i, doc := range splitDocuments(data) {
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

// splitDocuments cuts a YAML stream at its "---" separators.
func splitDocuments(data []byte) [][]byte {
	var (
		docs [][]byte
		cur  bytes.Buffer
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimRight(line, " \t\r")
		if trimmed == "---" || strings.HasPrefix(trimmed, "--- ") || trimmed == "..." {
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	docs = append(docs, cur.Bytes())
	return docs
}

// doc walks one decoded document, remembering the first fault.
type doc struct {
	file  string
	index int
	err   *Error
}

func (d *doc) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = &Error{File: d.file, Document: d.index, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
}

func parseDocument(file string, index int, data []byte) (KafkaSource, bool, error) {
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return KafkaSource{}, false, &Error{File: file, Document: index, Reason: "invalid YAML: " + err.Error()}
	}
	top, ok := raw.(map[string]any)
	if !ok {
		return KafkaSource{}, false, nil
	}
	kind, _ := top["kind"].(string)
	if kind != Kind {
		return KafkaSource{}, false, nil
	}
	d := &doc{file: file, index: index}
	if av, _ := top["apiVersion"].(string); av != APIVersion {
		d.fail("apiVersion", "%q is not %s (the only KafkaSource version read)", fmt.Sprint(top["apiVersion"]), APIVersion)
		return KafkaSource{}, false, d.err
	}
	s := KafkaSource{File: file}
	meta := d.object(top, "metadata", "metadata", true)
	s.Name = d.str(meta, "name", "metadata.name", true)
	if s.Name != "" && !dnsLabel.MatchString(s.Name) {
		d.fail("metadata.name", "%q is not a valid name (lower-case letters, digits and '-')", s.Name)
	}
	s.Namespace = d.str(meta, "namespace", "metadata.namespace", false)
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	s.Labels = d.stringMap(meta, "labels", "metadata.labels")

	spec := d.object(top, "spec", "spec", true)
	d.known(spec, "spec", "bootstrapServers", "topics", "consumerGroup", "initialOffset", "ordering",
		"delivery", "sink", "net", "consumers", "ceOverrides")
	for _, b := range d.strList(spec, "bootstrapServers", "spec.bootstrapServers", true) {
		for _, part := range strings.Split(b, ",") {
			if part = strings.TrimSpace(part); part != "" {
				s.BootstrapServers = append(s.BootstrapServers, part)
			}
		}
	}
	s.Topics = d.strList(spec, "topics", "spec.topics", true)
	s.ConsumerGroup = d.str(spec, "consumerGroup", "spec.consumerGroup", false)
	if s.ConsumerGroup == "" {
		s.ConsumerGroup = "knative-kafka-source-" + s.Namespace + "-" + s.Name
	}
	s.InitialOffset = InitialOffset(d.enum(spec, "initialOffset", "spec.initialOffset", string(DefaultInitialOffset),
		string(OffsetEarliest), string(OffsetLatest)))
	s.Ordering = Ordering(d.enum(spec, "ordering", "spec.ordering", string(DefaultOrdering),
		string(Ordered), string(Unordered)))
	s.Consumers = int32(d.integer(spec, "consumers", "spec.consumers", 1, 1))
	if ce := d.object(spec, "ceOverrides", "spec.ceOverrides", false); ce != nil {
		d.known(ce, "spec.ceOverrides", "extensions")
		s.Extensions = d.stringMap(ce, "extensions", "spec.ceOverrides.extensions")
		for k := range s.Extensions {
			if !extName.MatchString(k) {
				d.fail("spec.ceOverrides.extensions."+k, "%q is not a CloudEvents extension name (lower-case letters and digits)", k)
			}
		}
	}
	if sink := d.object(spec, "sink", "spec.sink", true); sink != nil {
		s.Sink = d.destination(sink, "spec.sink", s.Namespace)
	}
	s.Delivery = Delivery{
		BackoffPolicy: DefaultBackoffPolicy,
		BackoffDelay:  DefaultBackoffDelay,
		Timeout:       DefaultTimeout,
	}
	if del := d.object(spec, "delivery", "spec.delivery", false); del != nil {
		d.known(del, "spec.delivery", "retry", "backoffPolicy", "backoffDelay", "deadLetterSink", "timeout",
			"retryAfterMax", "format")
		s.Delivery.Retry = int32(d.integer(del, "retry", "spec.delivery.retry", 0, 0))
		s.Delivery.BackoffPolicy = BackoffPolicy(d.enum(del, "backoffPolicy", "spec.delivery.backoffPolicy",
			string(DefaultBackoffPolicy), string(BackoffLinear), string(BackoffExponential)))
		if v := d.duration(del, "backoffDelay", "spec.delivery.backoffDelay"); v >= 0 {
			s.Delivery.BackoffDelay = v
		}
		if v := d.duration(del, "timeout", "spec.delivery.timeout"); v >= 0 {
			if v == 0 {
				d.fail("spec.delivery.timeout", "must be more than zero")
			}
			s.Delivery.Timeout = v
		}
		d.duration(del, "retryAfterMax", "spec.delivery.retryAfterMax")
		if f := d.str(del, "format", "spec.delivery.format", false); f != "" && f != "binary" && f != "json" {
			d.fail("spec.delivery.format", "%q is not one of binary, json", f)
		}
		if dls := d.object(del, "deadLetterSink", "spec.delivery.deadLetterSink", false); dls != nil {
			dest := d.destination(dls, "spec.delivery.deadLetterSink", s.Namespace)
			s.Delivery.DeadLetterSink = &dest
		}
	}
	if d.err != nil {
		return KafkaSource{}, false, d.err
	}
	return s, true, nil
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	extName  = regexp.MustCompile(`^[a-z0-9]+$`)
)

func (d *doc) destination(m map[string]any, path, namespace string) Destination {
	d.known(m, path, "ref", "uri", "CACerts", "audience")
	var dest Destination
	if ref := d.object(m, "ref", path+".ref", false); ref != nil {
		d.known(ref, path+".ref", "apiVersion", "kind", "name", "namespace", "group", "address")
		r := Reference{
			APIVersion: d.str(ref, "apiVersion", path+".ref.apiVersion", false),
			Kind:       d.str(ref, "kind", path+".ref.kind", true),
			Name:       d.str(ref, "name", path+".ref.name", true),
			Namespace:  d.str(ref, "namespace", path+".ref.namespace", false),
		}
		if r.APIVersion == "" {
			if g := d.str(ref, "group", path+".ref.group", false); g == "" {
				d.fail(path+".ref.apiVersion", "is required")
			}
		}
		if r.Namespace == "" {
			r.Namespace = namespace
		}
		dest.Ref = &r
	}
	if raw := d.str(m, "uri", path+".uri", false); raw != "" {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			d.fail(path+".uri", "%q is not a URI", raw)
		case dest.Ref == nil && (!u.IsAbs() || u.Host == ""):
			d.fail(path+".uri", "%q must be an absolute URI when no ref is given", raw)
		case dest.Ref != nil && u.IsAbs():
			d.fail(path+".uri", "%q must be relative when a ref is given", raw)
		default:
			dest.URI = u
		}
	}
	if dest.Ref == nil && dest.URI == nil && d.err == nil {
		d.fail(path, "needs a ref or a uri")
	}
	return dest
}

// known refuses fields that are not in names, as kubectl's strict field
// validation does: a misspelt field must not silently fall back to a default.
func (d *doc) known(m map[string]any, path string, names ...string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(names, k) {
			d.fail(path+"."+k, "unknown field")
		}
	}
}

func (d *doc) object(m map[string]any, key, path string, required bool) map[string]any {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			d.fail(path, "is required")
		}
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "must be an object, not %s", describe(v))
		return nil
	}
	return o
}

func (d *doc) str(m map[string]any, key, path string, required bool) string {
	if m == nil {
		return ""
	}
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			d.fail(path, "is required")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(path, "must be a string, not %s", describe(v))
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		d.fail(path, "must not be empty")
	}
	return s
}

func (d *doc) strList(m map[string]any, key, path string, required bool) []string {
	if m == nil {
		return nil
	}
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			d.fail(path, "is required")
		}
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		d.fail(path, "must be a list of strings, not %s", describe(v))
		return nil
	}
	if required && len(list) == 0 {
		d.fail(path, "must not be empty")
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok || strings.TrimSpace(s) == "" {
			d.fail(fmt.Sprintf("%s[%d]", path, i), "must be a non-empty string, not %s", describe(item))
			continue
		}
		out = append(out, s)
	}
	return out
}

func (d *doc) stringMap(m map[string]any, key, path string) map[string]string {
	if m == nil {
		return nil
	}
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "must be a map of strings, not %s", describe(v))
		return nil
	}
	out := make(map[string]string, len(o))
	for k, item := range o {
		s, ok := item.(string)
		if !ok {
			d.fail(path+"."+k, "must be a string, not %s", describe(item))
			continue
		}
		out[k] = s
	}
	return out
}

func (d *doc) enum(m map[string]any, key, path, def string, allowed ...string) string {
	s := d.str(m, key, path, false)
	if s == "" {
		return def
	}
	if !slices.Contains(allowed, s) {
		d.fail(path, "%q is not one of %s", s, strings.Join(allowed, ", "))
		return def
	}
	return s
}

func (d *doc) integer(m map[string]any, key, path string, def, min int64) int64 {
	if m == nil {
		return def
	}
	v, ok := m[key]
	if !ok || v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f > math.MaxInt32 {
		d.fail(path, "must be an integer, not %s", describe(v))
		return def
	}
	if int64(f) < min {
		d.fail(path, "must be at least %d, not %d", min, int64(f))
		return def
	}
	return int64(f)
}

// duration returns the ISO-8601 duration at key, or -1 when it is absent or
// malformed.
func (d *doc) duration(m map[string]any, key, path string) time.Duration {
	if m == nil {
		return -1
	}
	if _, ok := m[key]; !ok {
		return -1
	}
	s := d.str(m, key, path, false)
	if s == "" {
		return -1
	}
	v, err := ParseDuration(s)
	if err != nil {
		d.fail(path, "%q %v", s, err)
		return -1
	}
	return v
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
