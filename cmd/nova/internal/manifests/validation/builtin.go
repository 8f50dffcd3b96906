package validation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// clusterScoped lists the built-in kinds that live outside namespaces; the
// OpenAPI documents do not say.
var clusterScoped = map[schema.GroupKind]bool{
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:        true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: true,
	{Group: "", Kind: "Namespace"}:                                   true,
}

const refPrefix = "#/components/schemas/"

// combinatorNoise matches kube-openapi's summary of a failed allOf, oneOf or
// anyOf, which comes on top of the errors that made it fail.
var combinatorNoise = regexp.MustCompile(`must validate (all the schemas \(allOf\)|one and only one schema \(oneOf\)|at least one schema \(anyOf\))`)

// builtins validates built-in kinds from Kubernetes OpenAPI v3 components:
// structured-merge-diff's typed parse (what server-side apply uses) finds
// unknown fields and wrong types, including in metadata; kube-openapi's
// validator finds missing required fields and format violations (Secret data
// that is not base64). Enum values of built-in fields are not checked: the
// OpenAPI documents give them in prose only.
type builtins struct {
	types managedfields.TypeConverter
}

// loadBuiltins reads the OpenAPI documents under dir of fsys and adds every
// kind they define to kinds.
func loadBuiltins(fsys fs.FS, dir string, kinds map[schema.GroupVersionKind]kindInfo) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return err
	}
	all := map[string]*spec.Schema{}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		var doc spec3.OpenAPI
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if doc.Components == nil {
			return fmt.Errorf("%s: no components", p)
		}
		for name, s := range doc.Components.Schemas {
			all[name] = s
		}
	}
	tc, err := managedfields.NewTypeConverter(all, false)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	b := &builtins{types: tc}
	for name, s := range all {
		gvks := gvksOf(s)
		if len(gvks) != 1 {
			continue // a shared type (DeleteOptions, WatchEvent) or no kind at all
		}
		gvk := gvks[0]
		inlined, err := inline(*s, all, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		v := validation.NewSchemaValidatorFromOpenAPI(&inlined)
		kinds[gvk] = kindInfo{
			namespaced: !clusterScoped[gvk.GroupKind()],
			check: func(_ context.Context, obj map[string]any) []fieldProblem {
				return b.check(obj, v)
			},
		}
	}
	return nil
}

func gvksOf(s *spec.Schema) []schema.GroupVersionKind {
	list, _ := s.Extensions["x-kubernetes-group-version-kind"].([]any)
	var out []schema.GroupVersionKind
	for _, x := range list {
		m, _ := x.(map[string]any)
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		out = append(out, schema.GroupVersionKind{Group: g, Version: v, Kind: k})
	}
	return out
}

func (b *builtins) check(obj map[string]any, v validation.SchemaCreateValidator) []fieldProblem {
	var out []fieldProblem
	reported := map[string]bool{}
	if _, err := b.types.ObjectToTyped(&unstructured.Unstructured{Object: obj}); err != nil {
		var verrs typed.ValidationErrors
		if !errors.As(err, &verrs) {
			return []fieldProblem{{message: err.Error()}}
		}
		for _, e := range verrs {
			f := strings.TrimPrefix(e.Path, ".")
			// Metadata is checked on its own, like every object's.
			if f == "metadata" || strings.HasPrefix(f, "metadata.") {
				continue
			}
			msg := e.ErrorMessage
			if msg == "field not declared in schema" {
				msg = "unknown field"
			}
			reported[f] = true
			out = append(out, fieldProblem{field: f, message: msg})
		}
	}
	for _, e := range validation.ValidateCustomResource(nil, obj, v) {
		// A wrong type is already reported by the typed parse, in its words;
		// allOf wrappers (how OpenAPI v3 puts a default beside a $ref) only
		// repeat the error inside them.
		if reported[e.Field] || strings.HasPrefix(e.Field, "metadata.") || combinatorNoise.MatchString(e.Detail) {
			continue
		}
		out = append(out, fieldProblem{field: e.Field, message: e.ErrorBody()})
	}
	return out
}

// inline returns s with every $ref replaced by the schema it names, which
// kube-openapi's validator needs (it does not resolve references). Formats
// the validator does not know are dropped: int-or-string is already
// expressed by the schema's oneOf.
func inline(s spec.Schema, all map[string]*spec.Schema, refs []string) (spec.Schema, error) {
	if ref := s.Ref.String(); ref != "" {
		name := strings.TrimPrefix(ref, refPrefix)
		target, ok := all[name]
		if !ok || !strings.HasPrefix(ref, refPrefix) {
			return s, fmt.Errorf("unresolved $ref %s", ref)
		}
		if slices.Contains(refs, name) {
			return s, fmt.Errorf("recursive type %s cannot be inlined", name)
		}
		return inline(*target, all, append(refs[:len(refs):len(refs)], name))
	}
	if s.Format == "int-or-string" {
		s.Format = ""
	}
	var err error
	if s.Properties != nil {
		props := make(map[string]spec.Schema, len(s.Properties))
		for k, p := range s.Properties {
			if props[k], err = inline(p, all, refs); err != nil {
				return s, err
			}
		}
		s.Properties = props
	}
	if s.Items != nil {
		items := *s.Items
		if items.Schema != nil {
			x, err := inline(*items.Schema, all, refs)
			if err != nil {
				return s, err
			}
			items.Schema = &x
		}
		if items.Schemas, err = inlineList(items.Schemas, all, refs); err != nil {
			return s, err
		}
		s.Items = &items
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		x, err := inline(*s.AdditionalProperties.Schema, all, refs)
		if err != nil {
			return s, err
		}
		s.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: &x}
	}
	if s.Not != nil {
		x, err := inline(*s.Not, all, refs)
		if err != nil {
			return s, err
		}
		s.Not = &x
	}
	if s.AllOf, err = inlineList(s.AllOf, all, refs); err != nil {
		return s, err
	}
	if s.OneOf, err = inlineList(s.OneOf, all, refs); err != nil {
		return s, err
	}
	if s.AnyOf, err = inlineList(s.AnyOf, all, refs); err != nil {
		return s, err
	}
	return s, nil
}

func inlineList(list []spec.Schema, all map[string]*spec.Schema, refs []string) ([]spec.Schema, error) {
	if list == nil {
		return nil, nil
	}
	out := make([]spec.Schema, len(list))
	for i, x := range list {
		var err error
		if out[i], err = inline(x, all, refs); err != nil {
			return nil, err
		}
	}
	return out, nil
}
