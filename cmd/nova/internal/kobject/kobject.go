// Package kobject reads Kubernetes objects from YAML streams field by field,
// with the checks the API server and Knative's webhooks apply: a misspelt
// field is refused rather than silently defaulted, and each refusal names
// the file, the document, the object and the field at fault.
package kobject

import (
	"bytes"
	"fmt"
	"strings"
)

// Error is an object a reader refuses: where it is, which field and why.
// Kind is what the error unwraps to, so that each reader's callers can
// recognise its refusals with errors.Is.
type Error struct {
	File     string
	Document int // 1-based; shown past the first
	// Object is "<Kind> <namespace>/<name>", or the kind alone while the
	// name is unknown; empty where the file holds one kind.
	Object string
	Field  string
	Reason string
	Kind   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Document > 1 {
		fmt.Fprintf(&b, " (document %d)", e.Document)
	}
	b.WriteString(": ")
	for _, s := range []string{e.Object, e.Field} {
		if s != "" {
			b.WriteString(s)
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Reason)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Kind }

// Documents cuts a YAML stream at its "---" separators and "..." end
// markers. Empty documents are kept, so that a document's index is its
// position in the file, as kubectl numbers them.
func Documents(data []byte) [][]byte {
	var (
		docs [][]byte
		cur  []byte
	)
	for line := range bytes.Lines(data) {
		t := bytes.TrimRight(line, " \t\r\n")
		if string(t) == "---" || bytes.HasPrefix(t, []byte("--- ")) || string(t) == "..." {
			docs = append(docs, cur)
			cur = nil
			continue
		}
		cur = append(cur, line...)
	}
	return append(docs, cur)
}

// Describe names a decoded YAML value for a message: quoted when a string,
// as written when a number or a boolean, by its shape otherwise.
func Describe(v any) string {
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
