package validation

import (
	"fmt"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// nameRules are the name rules of built-in kinds that are not the default
// DNS-1123 subdomain, as the API server's validation for each kind has them.
var nameRules = map[schema.GroupKind]apivalidation.ValidateNameFunc{
	{Group: "", Kind: "Service"}:                                     apivalidation.NameIsDNS1035Label,
	{Group: "", Kind: "Namespace"}:                                   apivalidation.ValidateNamespaceName,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:               pathSegmentName,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:        pathSegmentName,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:        pathSegmentName,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: pathSegmentName,
}

// pathSegmentName is the RBAC kinds' name rule: the name is one segment of
// a URL path. apimachinery's path.ValidatePathSegmentName, which the API
// server applies, is deprecated in favour of a local copy of the rule.
func pathSegmentName(name string, prefix bool) []string {
	if !prefix && (name == "." || name == "..") {
		return []string{fmt.Sprintf("may not be '%s'", name)}
	}
	var errs []string
	for _, illegal := range []string{"/", "%"} {
		if strings.Contains(name, illegal) {
			errs = append(errs, fmt.Sprintf(`may not contain '%s'`, illegal))
		}
	}
	return errs
}

// checkMeta checks metadata as the API server does for every kind: unknown
// or mistyped fields, the name, the namespace, label keys and values and
// annotations. A namespaced object without a namespace gets kubectl's
// (the context's) on apply, so none is required here; a cluster-scoped
// object's namespace is ignored by the API server.
func checkMeta(obj map[string]any, gk schema.GroupKind, namespaced bool) []fieldProblem {
	meta, found, unknown, err := objectmeta.GetObjectMetaWithOptions(obj, objectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return []fieldProblem{{field: "metadata", message: err.Error()}}
	}
	var out []fieldProblem
	for _, p := range unknown {
		out = append(out, fieldProblem{field: p, message: "unknown field"})
	}
	if !found {
		return append(out, fieldProblem{field: "metadata", message: "Required value"})
	}
	if namespaced && meta.Namespace == "" {
		meta.Namespace = "default"
	}
	if !namespaced {
		meta.Namespace = ""
	}
	nameFn, ok := nameRules[gk]
	if !ok {
		nameFn = apivalidation.NameIsDNSSubdomain
	}
	errs := apivalidation.ValidateObjectMeta(meta, namespaced, nameFn, field.NewPath("metadata"))
	return append(out, fromFieldErrors(errs)...)
}
