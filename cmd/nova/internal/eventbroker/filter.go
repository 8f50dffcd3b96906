package eventbroker

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Filter decides whether a Trigger delivers an event, as the Kafka Broker's
// dispatcher evaluates it.
type Filter interface {
	// Match reports whether e passes. An error means the data plane fails
	// while evaluating the filter: an exact, prefix or suffix test of
	// subject or datacontenttype on an event without that attribute reads
	// a null there. The dispatcher then discards the record, like one that
	// does not match, whatever encloses the failing test (a not does not
	// turn it into a match).
	Match(e cloudevents.Event) (bool, error)
	// String renders the filter for messages.
	String() string
}

// ErrAbsentAttribute is the failure Match reports for a test of an absent
// subject or datacontenttype.
var ErrAbsentAttribute = errors.New("attribute absent (the Kafka data plane fails on it and discards the record)")

// MatchAll is the filter of a Trigger without filters: every event passes.
var MatchAll Filter = all(nil)

// attrOp is the comparison of an attributes dialect.
type attrOp string

const (
	opExact  attrOp = "exact"
	opPrefix attrOp = "prefix"
	opSuffix attrOp = "suffix"
)

// attrFilter is spec.filter.attributes, or an exact, prefix or suffix
// dialect: every entry must hold (AND), compared case-sensitively as given.
// Entries with an empty value were dropped when it was built: "" means any
// value, absent included.
type attrFilter struct {
	op      attrOp
	entries []attrEntry // sorted by name, so messages are stable
}

type attrEntry struct{ name, value string }

func newAttrFilter(op attrOp, m map[string]string) Filter {
	f := attrFilter{op: op}
	for k, v := range m {
		if v != "" {
			f.entries = append(f.entries, attrEntry{k, v})
		}
	}
	if len(f.entries) == 0 {
		return MatchAll
	}
	sort.Slice(f.entries, func(i, j int) bool { return f.entries[i].name < f.entries[j].name })
	return f
}

func (f attrFilter) Match(e cloudevents.Event) (bool, error) {
	for _, en := range f.entries {
		given, present := attribute(e, en.name)
		if !present {
			return false, fmt.Errorf("%s %s: %w", f.op, en.name, ErrAbsentAttribute)
		}
		var ok bool
		switch f.op {
		case opPrefix:
			ok = strings.HasPrefix(given, en.value)
		case opSuffix:
			ok = strings.HasSuffix(given, en.value)
		default:
			ok = given == en.value
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func (f attrFilter) String() string {
	parts := make([]string, len(f.entries))
	for i, en := range f.entries {
		parts[i] = fmt.Sprintf("%s: %q", en.name, en.value)
	}
	return string(f.op) + "{" + strings.Join(parts, ", ") + "}"
}

// attribute reads an attribute as the data plane's AttributesFilter does:
// the core attributes by name (subject and datacontenttype are null, so
// not present, when unset; dataschema and time are "" then, time in
// ISO_INSTANT form), any other name as an extension (its string form, ""
// when unset).
func attribute(e cloudevents.Event, name string) (value string, present bool) {
	switch name {
	case "specversion":
		return e.SpecVersion(), true
	case "id":
		return e.ID(), true
	case "type":
		return e.Type(), true
	case "source":
		return e.Source(), true
	case "datacontenttype":
		if ec := e.Context.AsV1(); ec == nil || ec.DataContentType == nil {
			return "", false
		}
		return e.DataContentType(), true
	case "subject":
		if ec := e.Context.AsV1(); ec == nil || ec.Subject == nil {
			return "", false
		}
		return e.Subject(), true
	case "dataschema", "schemaurl":
		return e.DataSchema(), true
	case "time":
		if t := e.Time(); !t.IsZero() {
			return isoInstant(t), true
		}
		return "", true
	}
	v, ok := e.Extensions()[name]
	if !ok || v == nil {
		return "", true
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	s, err := types.Format(v)
	if err != nil {
		return fmt.Sprint(v), true
	}
	return s, true
}

// isoInstant formats t as Java's DateTimeFormatter.ISO_INSTANT does: UTC,
// and a fraction of 3, 6 or 9 digits only when there is one.
func isoInstant(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if ns := t.Nanosecond(); ns != 0 {
		switch {
		case ns%1_000_000 == 0:
			s += "." + fmt.Sprintf("%03d", ns/1_000_000)
		case ns%1_000 == 0:
			s += "." + fmt.Sprintf("%06d", ns/1_000)
		default:
			s += "." + fmt.Sprintf("%09d", ns)
		}
	}
	return s + "Z"
}

// all is true when every filter is (an empty list is true). Filters are
// evaluated in order and a failure ends the evaluation, as in the data
// plane.
type all []Filter

func (f all) Match(e cloudevents.Event) (bool, error) {
	for _, sub := range f {
		ok, err := sub.Match(e)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (f all) String() string {
	if len(f) == 0 {
		return "{}"
	}
	return "all" + list(f)
}

// anyOf is true when one filter is, evaluated in order up to the first
// match or failure.
type anyOf []Filter

func (f anyOf) Match(e cloudevents.Event) (bool, error) {
	for _, sub := range f {
		ok, err := sub.Match(e)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func (f anyOf) String() string { return "any" + list(f) }

func list(fs []Filter) string {
	parts := make([]string, len(fs))
	for i, sub := range fs {
		parts[i] = sub.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// not negates its filter; a failure stays a failure.
type not struct{ f Filter }

func (f not) Match(e cloudevents.Event) (bool, error) {
	ok, err := f.f.Match(e)
	if err != nil {
		return false, err
	}
	return !ok, nil
}

func (f not) String() string { return "not{" + f.f.String() + "}" }

// FilterSpec is one element of spec.filters (the CloudEvents Subscriptions
// API dialects): at most one dialect is set, which the reader checks.
type FilterSpec struct {
	Exact  map[string]string
	Prefix map[string]string
	Suffix map[string]string
	All    []FilterSpec
	Any    []FilterSpec
	Not    *FilterSpec
	CESQL  string
}

// dialects names the dialects set in s.
func (s FilterSpec) dialects() []string {
	var out []string
	if len(s.Exact) > 0 {
		out = append(out, "exact")
	}
	if len(s.Prefix) > 0 {
		out = append(out, "prefix")
	}
	if len(s.Suffix) > 0 {
		out = append(out, "suffix")
	}
	if len(s.All) > 0 {
		out = append(out, "all")
	}
	if len(s.Any) > 0 {
		out = append(out, "any")
	}
	if s.Not != nil {
		out = append(out, "not")
	}
	if s.CESQL != "" {
		out = append(out, "cesql")
	}
	return out
}

// NewFilter builds a Trigger's filter as the Kafka Broker does: a
// non-empty filters list wins and is the AND of its elements; otherwise
// attributes is an exact match; with neither every event passes. An
// element with no dialect is true, as are an empty all and an empty any (the
// control plane drops an empty any). The specs must have passed the
// webhook's checks (the reader makes sure); a CESQL expression that does
// not parse is an error.
func NewFilter(attributes map[string]string, filters []FilterSpec) (Filter, error) {
	if len(filters) > 0 {
		return buildAll(filters)
	}
	return newAttrFilter(opExact, attributes), nil
}

func buildAll(specs []FilterSpec) (Filter, error) {
	fs := make(all, 0, len(specs))
	for _, s := range specs {
		f, err := build(s)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if len(fs) == 1 {
		return fs[0], nil
	}
	return fs, nil
}

func build(s FilterSpec) (Filter, error) {
	// Several dialects in one element are refused by the webhook; the data
	// plane would AND them, and so does this.
	var fs all
	if len(s.Exact) > 0 {
		fs = append(fs, newAttrFilter(opExact, s.Exact))
	}
	if len(s.Prefix) > 0 {
		fs = append(fs, newAttrFilter(opPrefix, s.Prefix))
	}
	if len(s.Suffix) > 0 {
		fs = append(fs, newAttrFilter(opSuffix, s.Suffix))
	}
	if len(s.All) > 0 {
		f, err := buildAll(s.All)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if len(s.Any) > 0 {
		subs := make(anyOf, 0, len(s.Any))
		for _, a := range s.Any {
			f, err := build(a)
			if err != nil {
				return nil, err
			}
			subs = append(subs, f)
		}
		fs = append(fs, subs)
	}
	if s.Not != nil {
		f, err := build(*s.Not)
		if err != nil {
			return nil, err
		}
		fs = append(fs, not{f})
	}
	if s.CESQL != "" {
		f, err := newCESQL(s.CESQL)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if len(fs) == 1 {
		return fs[0], nil
	}
	return fs, nil
}

// quote is strconv.Quote, for messages.
func quote(s string) string { return strconv.Quote(s) }
