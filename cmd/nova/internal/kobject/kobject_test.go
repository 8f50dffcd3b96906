package kobject

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestDocumentsKeepsPositions(t *testing.T) {
	in := "a: 1\n---\n---   \nb: 2\r\n--- # next\nc: 3\n...\nd: 4"
	got := Documents([]byte(in))
	want := []string{"a: 1\n", "", "b: 2\r\n", "c: 3\n", "d: 4"}
	if len(got) != len(want) {
		t.Fatalf("%d documents %q, want %d", len(got), got, len(want))
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("document %d = %q, want %q", i+1, got[i], want[i])
		}
	}
	// A separator-like line inside a block scalar is indented, so not one.
	if n := len(Documents([]byte("k: |\n  ---\n  x\n"))); n != 1 {
		t.Errorf("indented --- split the stream into %d documents", n)
	}
}

var errTest = errors.New("test kind")

func TestErrorNamesWhereAndUnwrapsToKind(t *testing.T) {
	e := &Error{File: "f.yaml", Document: 2, Object: "Trigger ns/t", Field: "spec.broker", Reason: "missing field(s)", Kind: errTest}
	if got, want := e.Error(), "f.yaml (document 2): Trigger ns/t: spec.broker: missing field(s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, errTest) {
		t.Error("errors.Is(e, Kind) is false")
	}
	e = &Error{File: "f.yaml", Document: 1, Reason: "invalid YAML"}
	if got, want := e.Error(), "f.yaml: invalid YAML"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func decode(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReaderFaults reads one field of a document per case and expects the
// named fault, or none when want is empty.
func TestReaderFaults(t *testing.T) {
	cases := []struct {
		name, doc string
		read      func(r *Reader, m map[string]any)
		want      string // "<field>: <reason>"
	}{
		{"unknown field", "a: 1\nzz: 2\nb: 3", func(r *Reader, m map[string]any) { r.Known(m, "spec", "a") }, "spec.b: unknown field"},
		{"known fields", "a: 1", func(r *Reader, m map[string]any) { r.Known(m, "spec", "a", "b") }, ""},
		{"object missing", "a: 1", func(r *Reader, m map[string]any) { r.Object(m, "o", "spec.o", true) }, "spec.o: missing field(s)"},
		{"object optional", "a: 1", func(r *Reader, m map[string]any) { r.Object(m, "o", "spec.o", false) }, ""},
		{"object a list", "o: [1]", func(r *Reader, m map[string]any) { r.Object(m, "o", "spec.o", false) }, "spec.o: must be an object, not a list"},
		{"string blank", "s: ' '", func(r *Reader, m map[string]any) { r.String(m, "s", "s", true) }, "s: missing field(s)"},
		{"string a number", "s: 3", func(r *Reader, m map[string]any) { r.String(m, "s", "s", false) }, "s: must be a string, not 3"},
		{"strings empty", "l: []", func(r *Reader, m map[string]any) { r.Strings(m, "l", "l", true) }, "l: missing field(s): the list must not be empty"},
		{"strings item", "l: [a, '']", func(r *Reader, m map[string]any) { r.Strings(m, "l", "l", true) }, `l[1]: must be a non-empty string, not ""`},
		{"string map item", "m: {k: {x: 1}}", func(r *Reader, m map[string]any) { r.StringMap(m, "m", "m") }, "m.k: must be a string, not an object"},
		{"enum", "e: c", func(r *Reader, m map[string]any) { r.Enum(m, "e", "e", "a", "a", "b") }, "e: invalid value: c (one of a, b)"},
		{"integer fraction", "i: 2.5", func(r *Reader, m map[string]any) { r.Integer(m, "i", "i", 0, 0) }, "i: must be an integer, not 2.5"},
		{"integer too big", "i: 3000000000", func(r *Reader, m map[string]any) { r.Integer(m, "i", "i", 0, 0) }, "i: must be an integer, not 3e+09"},
		{"integer below min", "i: -1", func(r *Reader, m map[string]any) { r.Integer(m, "i", "i", 0, 0) }, "i: invalid value: -1 (must be at least 0)"},
		{"duration", "d: 10s", func(r *Reader, m map[string]any) { r.Duration(m, "d", "d") }, "d: invalid value: 10s (is not an ISO-8601 duration)"},
		{"first fault kept", "a: 1", func(r *Reader, m map[string]any) {
			r.Object(m, "x", "first", true)
			r.Object(m, "y", "second", true)
		}, "first: missing field(s)"},
		{"nil map reads as empty", "a: 1", func(r *Reader, _ map[string]any) {
			r.Known(nil, "spec")
			r.String(nil, "s", "s", false)
			r.Strings(nil, "l", "l", false)
			r.StringMap(nil, "m", "m")
			r.Integer(nil, "i", "i", 1, 0)
			r.Duration(nil, "d", "d")
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Reader{File: "f.yaml", Document: 1, Kind: errTest}
			c.read(r, decode(t, c.doc))
			err := r.Err()
			if c.want == "" {
				if err != nil || r.Failed() {
					t.Fatalf("fault %v, want none", err)
				}
				return
			}
			if err == nil || !r.Failed() {
				t.Fatalf("no fault, want %q", c.want)
			}
			if !strings.HasSuffix(err.Error(), c.want) || !errors.Is(err, errTest) {
				t.Fatalf("fault %q, want one ending %q and matching Kind", err, c.want)
			}
		})
	}
}

func TestReaderValues(t *testing.T) {
	r := &Reader{File: "f.yaml"}
	m := decode(t, "s: x\nl: [a, b]\nm: {k: v}\ne: b\ni: 7\nd: PT1.5S\n")
	if got := r.String(m, "s", "s", true); got != "x" {
		t.Errorf("String = %q", got)
	}
	if got := r.Strings(m, "l", "l", true); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Strings = %q", got)
	}
	if got := r.StringMap(m, "m", "m"); len(got) != 1 || got["k"] != "v" {
		t.Errorf("StringMap = %v", got)
	}
	if got := r.Enum(m, "e", "e", "a", "a", "b"); got != "b" {
		t.Errorf("Enum = %q", got)
	}
	if got := r.Enum(m, "absent", "absent", "a", "a", "b"); got != "a" {
		t.Errorf("Enum default = %q", got)
	}
	if got := r.Integer(m, "i", "i", 1, 0); got != 7 {
		t.Errorf("Integer = %d", got)
	}
	if got := r.Integer(m, "absent", "absent", 1, 0); got != 1 {
		t.Errorf("Integer default = %d", got)
	}
	if got, ok := r.Duration(m, "d", "d"); !ok || got != 1500*time.Millisecond {
		t.Errorf("Duration = %v, %v", got, ok)
	}
	if _, ok := r.Duration(m, "absent", "absent"); ok {
		t.Error("Duration of an absent field is ok")
	}
	if err := r.Err(); err != nil {
		t.Errorf("fault %v reading valid fields", err)
	}
}
