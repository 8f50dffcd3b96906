// Package validation checks what `kubectl apply -k` would send to a cluster,
// without a cluster: it builds a kustomization in-process (kustomize's
// krusty, with kubectl's options) and validates every object strictly
// against the schemas the API server and operators would use:
//
//   - CRDs (KafkaSource, Broker, Trigger, ServiceMonitor, PrometheusRule) as
//     the API server's custom resource handler does: unknown fields (which
//     kubectl's strict field validation turns into errors), types, required
//     fields, enums, patterns, list types and CEL rules, metadata;
//   - built-ins (ConfigMap, Secret, Service, ServiceAccount, Deployment,
//     NetworkPolicy, RBAC) from Kubernetes' OpenAPI v3: structured-merge-diff's
//     typed parse and kube-openapi's validator;
//   - Strimzi KafkaTopic and KafkaUser through the validators compiled from
//     the Strimzi 1.0.0 CRDs (strimzi/, run with node);
//   - the rules Knative's webhooks add for Brokers and Triggers.
//
// An object of an API version or kind the check has no schema for is a
// problem too: a cluster would refuse it or the check cannot vouch for it.
// The schemas are committed under schemas/, generated from pinned module
// versions (make schemas; see schemas/README.md).
package validation

//go:generate go run ./schemagen -out schemas

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/api/konfig"
)

//go:embed schemas/crds schemas/openapi
var schemaFiles embed.FS

// Object names an object of a build.
type Object struct {
	APIVersion, Kind, Namespace, Name string
}

func (o Object) String() string {
	name := o.Name
	if o.Namespace != "" {
		name = o.Namespace + "/" + o.Name
	}
	return fmt.Sprintf("%s %s %s", o.APIVersion, o.Kind, name)
}

// Problem is one thing a cluster (or an operator's webhook) would refuse.
type Problem struct {
	// Dir is the kustomization folder that was built.
	Dir string
	// File is the file the object came from, relative to Dir, when
	// kustomize tells.
	File string
	// Object is zero when the build itself failed.
	Object Object
	// Field is the path of the field at fault (spec.delivery.retry), empty
	// when the problem is the whole object.
	Field   string
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(filepath.Join(p.Dir, p.File))
	} else {
		b.WriteString(p.Dir)
	}
	if p.Object != (Object{}) {
		b.WriteString(": " + p.Object.String())
	}
	if p.Field != "" {
		b.WriteString(": " + p.Field)
	}
	b.WriteString(": " + p.Message)
	return b.String()
}

// Report is the outcome of checking one kustomization.
type Report struct {
	Dir      string
	Objects  int // objects the build produced
	Problems []Problem
}

// Config says where the check finds what it runs outside Go.
type Config struct {
	// StrimziDir holds strimzi/validate.mjs, its package.json and lock, and
	// the node_modules that `npm ci` installs there (make strimzi-deps).
	StrimziDir string
	// Node is the node binary. Default: node from PATH.
	Node string
}

// Defaults fills unset fields.
func (c Config) Defaults() Config {
	if c.Node == "" {
		c.Node = "node"
	}
	return c
}

// Validate reports a configuration the check cannot run with. A missing
// Strimzi validator is an error, not a skipped check.
func (c Config) Validate() error {
	var errs []error
	if c.StrimziDir == "" {
		errs = append(errs, errors.New("no Strimzi validator folder (Config.StrimziDir)"))
	} else {
		if _, err := os.Stat(filepath.Join(c.StrimziDir, StrimziScript)); err != nil {
			errs = append(errs, fmt.Errorf("Strimzi validator: %w", err))
		}
		if _, err := os.Stat(filepath.Join(c.StrimziDir, "node_modules", strimziPackage, "package.json")); err != nil {
			errs = append(errs, fmt.Errorf("Strimzi validator: %s is not installed in %s (run make strimzi-deps, or npm ci there): %w", strimziPackage, c.StrimziDir, err))
		}
	}
	if _, err := exec.LookPath(c.Node); err != nil {
		errs = append(errs, fmt.Errorf("Strimzi validator needs Node.js: %w", err))
	}
	return errors.Join(errs...)
}

// fieldProblem is a problem of one object before it is named.
type fieldProblem struct {
	field, message string
}

// kindInfo is what the check knows of one served kind.
type kindInfo struct {
	namespaced bool
	// check validates obj against the schema (metadata aside); nil for
	// Strimzi kinds, which are validated together in one node process.
	check func(ctx context.Context, obj map[string]any) []fieldProblem
	// admission adds the rules of the kind's admission webhooks.
	admission func(ctx context.Context, obj map[string]any) []fieldProblem
	strimzi   bool
}

// Checker validates builds. It holds the parsed schemas; make one and use it
// for every folder.
type Checker struct {
	cfg   Config
	kinds map[schema.GroupVersionKind]kindInfo
}

// New parses the committed schemas.
func New(cfg Config) (*Checker, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.StrimziDir)
	if err != nil {
		return nil, err
	}
	cfg.StrimziDir = abs
	kinds := map[schema.GroupVersionKind]kindInfo{}
	if err := loadCRDs(schemaFiles, "schemas/crds", kinds); err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	if err := loadBuiltins(schemaFiles, "schemas/openapi", kinds); err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	for _, k := range strimziKinds {
		kinds[schema.GroupVersionKind{Group: k.group, Version: k.version, Kind: k.kind}] = kindInfo{
			namespaced: true, strimzi: true,
		}
	}
	for gvk, admission := range map[schema.GroupVersionKind]func(context.Context, map[string]any) []fieldProblem{
		{Group: "eventing.knative.dev", Version: "v1", Kind: "Trigger"}: checkTrigger,
		{Group: "eventing.knative.dev", Version: "v1", Kind: "Broker"}:  checkBroker,
	} {
		k, ok := kinds[gvk]
		if !ok {
			return nil, fmt.Errorf("schemas: no %s for its admission rules", gvk)
		}
		k.admission = admission
		kinds[gvk] = k
	}
	return &Checker{cfg: cfg, kinds: kinds}, nil
}

// Kinds lists the kinds the check validates, as group/version Kind.
func (c *Checker) Kinds() []string {
	var out []string
	for gvk := range c.kinds {
		out = append(out, gvk.GroupVersion().String()+" "+gvk.Kind)
	}
	sort.Strings(out)
	return out
}

// Check builds dir with kustomize and validates every object. A build that
// fails is one problem; the error is for a check that could not run.
func (c *Checker) Check(ctx context.Context, dir string) (Report, error) {
	rep := Report{Dir: dir}
	objs, err := build(dir)
	if err != nil {
		rep.Problems = []Problem{{Dir: dir, Message: "kustomize build: " + err.Error()}}
		return rep, nil //nolint:nilerr // a build failure is a problem of the manifests, reported as one
	}
	rep.Objects = len(objs)
	found := make([][]fieldProblem, len(objs))
	var strimziAt []int
	var strimziObjs []map[string]any
	for i, b := range objs {
		var strimzi bool
		found[i], strimzi = c.checkObject(ctx, b.obj)
		if strimzi {
			strimziAt = append(strimziAt, i)
			strimziObjs = append(strimziObjs, b.obj)
		}
	}
	more, err := c.runStrimzi(ctx, strimziObjs)
	if err != nil {
		return rep, err
	}
	for j, i := range strimziAt {
		found[i] = append(found[i], more[j]...)
	}
	for i, b := range objs {
		ps := found[i]
		sort.SliceStable(ps, func(x, y int) bool {
			if ps[x].field != ps[y].field {
				return ps[x].field < ps[y].field
			}
			return ps[x].message < ps[y].message
		})
		ps = slices.Compact(ps)
		obj := objectOf(b.obj)
		for _, p := range ps {
			rep.Problems = append(rep.Problems, Problem{Dir: dir, File: b.file, Object: obj, Field: p.field, Message: p.message})
		}
	}
	return rep, nil
}

// checkObject validates one object, except against a Strimzi schema, which
// it asks the caller to do (true).
func (c *Checker) checkObject(ctx context.Context, obj map[string]any) ([]fieldProblem, bool) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return []fieldProblem{{field: "apiVersion", message: err.Error()}}, false
	}
	gvk := gv.WithKind(kind)
	info, ok := c.kinds[gvk]
	if !ok {
		return []fieldProblem{c.unserved(gvk)}, false
	}
	out := checkMeta(obj, gvk.GroupKind(), info.namespaced)
	if info.check != nil {
		out = append(out, info.check(ctx, obj)...)
	}
	if info.admission != nil {
		out = append(out, info.admission(ctx, obj)...)
	}
	return out, info.strimzi
}

// unserved explains why an object's kind has no schema.
func (c *Checker) unserved(gvk schema.GroupVersionKind) fieldProblem {
	var versions, groupKinds []string
	for k := range c.kinds {
		if k.Group != gvk.Group {
			continue
		}
		if k.Kind == gvk.Kind {
			versions = append(versions, k.GroupVersion().String())
		}
		groupKinds = append(groupKinds, k.Kind)
	}
	sort.Strings(versions)
	sort.Strings(groupKinds)
	groupKinds = slices.Compact(groupKinds)
	group := gvk.Group
	if group == "" {
		group = "the core group"
	}
	switch {
	case len(versions) > 0:
		return fieldProblem{field: "apiVersion", message: fmt.Sprintf("no such API version is served (%s is served as %s)", gvk.Kind, strings.Join(versions, ", "))}
	case len(groupKinds) > 0:
		return fieldProblem{field: "kind", message: fmt.Sprintf("no schema for this kind in the check (of %s it knows %s)", group, strings.Join(groupKinds, ", "))}
	default:
		return fieldProblem{field: "apiVersion", message: fmt.Sprintf("no schema for API group %s in the check", group)}
	}
}

func objectOf(obj map[string]any) Object {
	var o Object
	o.APIVersion, _ = obj["apiVersion"].(string)
	o.Kind, _ = obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	o.Namespace, _ = meta["namespace"].(string)
	o.Name, _ = meta["name"].(string)
	return o
}

// Dirs returns eventing and each of its overlays (eventing/overlays/*/ with
// a kustomization file): every folder `kubectl apply -k` may be pointed at.
func Dirs(eventing string) ([]string, error) {
	if _, err := os.Stat(eventing); err != nil {
		return nil, err
	}
	dirs := []string{eventing}
	entries, err := os.ReadDir(filepath.Join(eventing, "overlays"))
	if errors.Is(err, os.ErrNotExist) {
		return dirs, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(eventing, "overlays", e.Name())
		for _, name := range konfig.RecognizedKustomizationFileNames() {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				dirs = append(dirs, d)
				break
			}
		}
	}
	return dirs, nil
}
