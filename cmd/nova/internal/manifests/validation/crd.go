package validation

import (
	"context"
	"fmt"
	"io/fs"
	"path"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// crdKind validates one served version of a CustomResourceDefinition the way
// the API server's custom resource handler does on create.
type crdKind struct {
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
	cel        *cel.Validator // nil: the schema has no x-kubernetes-validations
}

// loadCRDs reads every CRD under dir of fsys and adds each served version
// to kinds.
func loadCRDs(fsys fs.FS, dir string, kinds map[schema.GroupVersionKind]kindInfo) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				return fmt.Errorf("%s: %s has no schema", p, gvk)
			}
			k, err := newCRDKind(v.Schema.OpenAPIV3Schema)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", p, gvk, err)
			}
			kinds[gvk] = kindInfo{
				namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
				check:      k.check,
			}
		}
	}
	return nil
}

func newCRDKind(v1 *apiextensionsv1.JSONSchemaProps) (*crdKind, error) {
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1, &internal, nil); err != nil {
		return nil, err
	}
	s, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, fmt.Errorf("not a structural schema: %w", err)
	}
	if errs := structuralschema.ValidateStructural(nil, s); len(errs) > 0 {
		return nil, fmt.Errorf("not a structural schema: %w", errs.ToAggregate())
	}
	v, _, err := validation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, err
	}
	return &crdKind{
		structural: s,
		validator:  v,
		cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
	}, nil
}

// check runs, on a copy of obj, what the API server does to a custom
// resource before storing it: prune unknown fields (reported, as kubectl's
// strict field validation makes them errors), drop nulls and apply defaults,
// then validate against the schema, embedded resources, list types and CEL
// rules. Metadata is checked on its own (checkMeta).
func (k *crdKind) check(ctx context.Context, obj map[string]any) []fieldProblem {
	u := runtime.DeepCopyJSON(obj)
	var out []fieldProblem
	for _, p := range pruning.PruneWithOptions(u, k.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		out = append(out, fieldProblem{field: p, message: "unknown field"})
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, k.structural)
	ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, u, k.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		out = append(out, fromFieldErrors(field.ErrorList{ferr})...)
	}
	for _, p := range paths {
		out = append(out, fieldProblem{field: p, message: "unknown field"})
	}
	structuraldefaulting.Default(u, k.structural)

	var errs field.ErrorList
	errs = append(errs, validation.ValidateCustomResource(nil, u, k.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, u, k.structural, false)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, k.structural, u)...)
	if k.cel != nil && !blocksCEL(errs) {
		celErrs, _ := k.cel.Validate(ctx, nil, k.structural, u, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return append(out, fromFieldErrors(errs)...)
}

// blocksCEL says whether the API server would skip the CEL rules: it does
// when an error shows the object is not of the schema's shape.
func blocksCEL(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// fromFieldErrors turns API server field errors into problems.
func fromFieldErrors(errs field.ErrorList) []fieldProblem {
	out := make([]fieldProblem, 0, len(errs))
	for _, e := range errs {
		f := e.Field
		if f == "<nil>" { // the object as a whole
			f = ""
		}
		out = append(out, fieldProblem{field: f, message: e.ErrorBody()})
	}
	return out
}
