package kobject

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Reader walks one decoded document (maps from sigs.k8s.io/yaml), keeping
// the first fault. Its messages are in the words of Knative's webhooks
// ("missing field(s)", "invalid value: …"), which are what kubectl would
// show for the same object. A nil map reads as empty.
type Reader struct {
	File     string
	Document int
	What     string // Error.Object; a reader refines it once it knows the name
	Kind     error  // Error.Kind
	err      *Error
}

// Err is the first fault, or nil.
func (r *Reader) Err() error {
	if r.err == nil {
		return nil
	}
	return r.err
}

// Failed says whether a fault has been recorded.
func (r *Reader) Failed() bool { return r.err != nil }

// Fail records a fault at the field path unless one is already recorded.
func (r *Reader) Fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = &Error{File: r.File, Document: r.Document, Object: r.What, Field: field,
			Reason: fmt.Sprintf(format, args...), Kind: r.Kind}
	}
}

// Known refuses the fields of m that are not in names, as the API server's
// strict field validation does.
func (r *Reader) Known(m map[string]any, path string, names ...string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(names, k) {
			r.Fail(path+"."+k, "unknown field")
		}
	}
}

// Object is the object at key, or nil when it is absent (a fault when
// required).
func (r *Reader) Object(m map[string]any, key, path string, required bool) map[string]any {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			r.Fail(path, "missing field(s)")
		}
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		r.Fail(path, "must be an object, not %s", Describe(v))
		return nil
	}
	return o
}

// String is the string at key; a required one must not be blank.
func (r *Reader) String(m map[string]any, key, path string, required bool) string {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			r.Fail(path, "missing field(s)")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.Fail(path, "must be a string, not %s", Describe(v))
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		r.Fail(path, "missing field(s)")
	}
	return s
}

// Strings is the list of non-blank strings at key; a required list must
// not be empty.
func (r *Reader) Strings(m map[string]any, key, path string, required bool) []string {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			r.Fail(path, "missing field(s)")
		}
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		r.Fail(path, "must be a list of strings, not %s", Describe(v))
		return nil
	}
	if required && len(list) == 0 {
		r.Fail(path, "missing field(s): the list must not be empty")
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok || strings.TrimSpace(s) == "" {
			r.Fail(fmt.Sprintf("%s[%d]", path, i), "must be a non-empty string, not %s", Describe(item))
			continue
		}
		out = append(out, s)
	}
	return out
}

// StringMap is the map of strings at key, or nil when it is absent.
func (r *Reader) StringMap(m map[string]any, key, path string) map[string]string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		r.Fail(path, "must be a map of strings, not %s", Describe(v))
		return nil
	}
	out := make(map[string]string, len(o))
	for k, item := range o {
		s, ok := item.(string)
		if !ok {
			r.Fail(path+"."+k, "must be a string, not %s", Describe(item))
			continue
		}
		out[k] = s
	}
	return out
}

// Enum is the string at key, one of allowed, or def when it is absent.
func (r *Reader) Enum(m map[string]any, key, path, def string, allowed ...string) string {
	s := r.String(m, key, path, false)
	if s == "" {
		return def
	}
	if !slices.Contains(allowed, s) {
		r.Fail(path, "invalid value: %s (one of %s)", s, strings.Join(allowed, ", "))
		return def
	}
	return s
}

// Integer is the int32-sized whole number at key, at least min, or def when
// it is absent.
func (r *Reader) Integer(m map[string]any, key, path string, def, least int64) int64 {
	v, ok := m[key]
	if !ok || v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		r.Fail(path, "must be an integer, not %s", Describe(v))
		return def
	}
	if int64(f) < least {
		r.Fail(path, "invalid value: %d (must be at least %d)", int64(f), least)
		return def
	}
	return int64(f)
}

// Duration is the ISO-8601 duration at key; ok is false when it is absent
// or malformed.
func (r *Reader) Duration(m map[string]any, key, path string) (d time.Duration, ok bool) {
	s := r.String(m, key, path, false)
	if s == "" {
		return 0, false
	}
	d, err := ParseDuration(s)
	if err != nil {
		r.Fail(path, "invalid value: %s (%v)", s, err)
		return 0, false
	}
	return d, true
}
