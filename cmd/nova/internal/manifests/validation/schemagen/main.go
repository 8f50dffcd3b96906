// Command schemagen writes the schemas that package manifest validates
// against: CRDs and Kubernetes OpenAPI v3 documents taken from pinned module
// versions through the Go module proxy (go mod download), never from a
// repository checkout, so anyone can reproduce them byte for byte.
//
//	schemagen -out DIR     write the files (make schemas)
//	schemagen -check DIR   fail, naming each file, when DIR differs from what
//	                       the pinned versions give (make schemas-check)
//
// CRDs are copied verbatim (one document out of a multi-document release
// manifest where needed). OpenAPI documents are trimmed to the components the
// listed kinds reach, without descriptions, which keeps the committed data
// small; validation reads nothing else.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// source is one file inside one module version.
type source struct {
	Module, Version, Path string
	// Out is the file written, relative to the output folder.
	Out string
	// CRD, when set, is the metadata.name of the CustomResourceDefinition
	// document to take from the file.
	CRD string
	// Kinds, when set, trims an OpenAPI v3 document to these kinds.
	Kinds []gvk
	// Note says what the file is for, in the README.
	Note string
}

type gvk struct{ Group, Version, Kind string }

// sources are the pins. See /README.md of the output for why each.
var sources = []source{
	{
		Module: "knative.dev/operator", Version: "v0.42.2",
		Path: "cmd/operator/kodata/eventing-source/1.15/kafka/eventing-kafka-controller.yaml",
		Out:  "crds/kafkasources.sources.knative.dev.yaml", CRD: "kafkasources.sources.knative.dev",
		Note: "KafkaSource sources.knative.dev/v1beta1 (eventing-kafka-broker knative-v1.15.1, as the operator installs it)",
	},
	{
		Module: "knative.dev/eventing", Version: "v0.50.0",
		Path: "config/core/resources/broker.yaml",
		Out:  "crds/brokers.eventing.knative.dev.yaml", CRD: "brokers.eventing.knative.dev",
		Note: "Broker eventing.knative.dev/v1",
	},
	{
		Module: "knative.dev/eventing", Version: "v0.50.0",
		Path: "config/core/resources/trigger.yaml",
		Out:  "crds/triggers.eventing.knative.dev.yaml", CRD: "triggers.eventing.knative.dev",
		Note: "Trigger eventing.knative.dev/v1",
	},
	{
		Module: "knative.dev/eventing", Version: "v0.50.0",
		Path: "config/core/resources/eventpolicy.yaml",
		Out:  "crds/eventpolicies.eventing.knative.dev.yaml", CRD: "eventpolicies.eventing.knative.dev",
		Note: "EventPolicy eventing.knative.dev/v1alpha1",
	},
	{
		Module: "github.com/prometheus-operator/prometheus-operator", Version: "v0.85.0",
		Path: "example/prometheus-operator-crd-full/monitoring.coreos.com_servicemonitors.yaml",
		Out:  "crds/servicemonitors.monitoring.coreos.com.yaml", CRD: "servicemonitors.monitoring.coreos.com",
		Note: "ServiceMonitor monitoring.coreos.com/v1",
	},
	{
		Module: "github.com/prometheus-operator/prometheus-operator", Version: "v0.85.0",
		Path: "example/prometheus-operator-crd-full/monitoring.coreos.com_prometheusrules.yaml",
		Out:  "crds/prometheusrules.monitoring.coreos.com.yaml", CRD: "prometheusrules.monitoring.coreos.com",
		Note: "PrometheusRule monitoring.coreos.com/v1",
	},
	{
		Module: "k8s.io/kubernetes", Version: "v1.37.2",
		Path: "api/openapi-spec/v3/api__v1_openapi.json",
		Out:  "openapi/api__v1_openapi.json",
		Kinds: []gvk{
			{"", "v1", "ConfigMap"}, {"", "v1", "Secret"}, {"", "v1", "Service"}, {"", "v1", "ServiceAccount"},
		},
		Note: "core/v1 ConfigMap, Secret, Service, ServiceAccount",
	},
	{
		Module: "k8s.io/kubernetes", Version: "v1.37.2",
		Path:  "api/openapi-spec/v3/apis__apps__v1_openapi.json",
		Out:   "openapi/apis__apps__v1_openapi.json",
		Kinds: []gvk{{"apps", "v1", "Deployment"}},
		Note:  "apps/v1 Deployment",
	},
	{
		Module: "k8s.io/kubernetes", Version: "v1.37.2",
		Path:  "api/openapi-spec/v3/apis__networking.k8s.io__v1_openapi.json",
		Out:   "openapi/apis__networking.k8s.io__v1_openapi.json",
		Kinds: []gvk{{"networking.k8s.io", "v1", "NetworkPolicy"}},
		Note:  "networking.k8s.io/v1 NetworkPolicy",
	},
	{
		Module: "k8s.io/kubernetes", Version: "v1.37.2",
		Path: "api/openapi-spec/v3/apis__rbac.authorization.k8s.io__v1_openapi.json",
		Out:  "openapi/apis__rbac.authorization.k8s.io__v1_openapi.json",
		Kinds: []gvk{
			{"rbac.authorization.k8s.io", "v1", "Role"}, {"rbac.authorization.k8s.io", "v1", "RoleBinding"},
			{"rbac.authorization.k8s.io", "v1", "ClusterRole"}, {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"},
		},
		Note: "rbac.authorization.k8s.io/v1 Role, RoleBinding, ClusterRole, ClusterRoleBinding",
	},
}

func main() {
	out := flag.String("out", "", "write the schemas into this folder")
	check := flag.String("check", "", "compare this folder with freshly generated schemas; fail naming each stale file")
	flag.Parse()
	if (*out == "") == (*check == "") {
		fmt.Fprintln(os.Stderr, "usage: schemagen -out DIR | -check DIR")
		os.Exit(2)
	}
	files, err := generate(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "schemagen: %v\n", err)
		os.Exit(1)
	}
	if *out != "" {
		if err := write(*out, files); err != nil {
			fmt.Fprintf(os.Stderr, "schemagen: %v\n", err)
			os.Exit(1)
		}
		return
	}
	stale, err := compare(*check, files)
	if err != nil {
		fmt.Fprintf(os.Stderr, "schemagen: %v\n", err)
		os.Exit(1)
	}
	if len(stale) > 0 {
		for _, s := range stale {
			fmt.Fprintf(os.Stderr, "schemas-check: %s (run make schemas)\n", s)
		}
		os.Exit(1)
	}
	fmt.Printf("schemas-check: %d files in %s match the pinned sources\n", len(files), *check)
}

// generate returns every output file by its path under the output folder.
func generate(ctx context.Context) (map[string][]byte, error) {
	dirs := map[string]string{}
	files := map[string][]byte{}
	var rows []string
	for _, s := range sources {
		key := s.Module + "@" + s.Version
		dir, ok := dirs[key]
		if !ok {
			var err error
			if dir, err = download(ctx, s.Module, s.Version); err != nil {
				return nil, err
			}
			dirs[key] = dir
		}
		raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(s.Path)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		var data []byte
		how := "verbatim"
		switch {
		case s.CRD != "":
			data, err = crdDocument(raw, s.CRD)
			if !bytes.Equal(data, raw) {
				how = "the CRD document " + s.CRD + ", verbatim"
			}
		case len(s.Kinds) > 0:
			data, err = trimOpenAPI(raw, s.Kinds)
			how = "trimmed to the components the kinds reach, descriptions dropped"
		default:
			err = errors.New("neither CRD nor Kinds set")
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", key, s.Path, err)
		}
		files[s.Out] = data
		sum := sha256.Sum256(raw)
		rows = append(rows, fmt.Sprintf("| `%s` | %s | `%s@%s` | `%s` | `%s` | %s |",
			s.Out, s.Note, s.Module, s.Version, s.Path, hex.EncodeToString(sum[:]), how))
	}
	files["README.md"] = readme(rows)
	return files, nil
}

// download fetches module@version into the module cache and returns its
// folder. It runs outside any module so the project's go.mod is untouched.
func download(ctx context.Context, module, version string) (string, error) {
	tmp, err := os.MkdirTemp("", "schemagen-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w: %s", module, version, err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no folder in %s", module, version, out)
	}
	return info.Dir, nil
}

// crdDocument returns the document of a (possibly multi-document) YAML file
// that is the CustomResourceDefinition named name, byte for byte.
func crdDocument(raw []byte, name string) ([]byte, error) {
	var docs [][]byte
	var cur []byte
	for line := range bytes.Lines(raw) {
		if strings.TrimRight(string(line), "\r\n") == "---" {
			docs = append(docs, cur)
			cur = nil
			continue
		}
		cur = append(cur, line...)
	}
	docs = append(docs, cur)
	// A file whose only document is the CRD (a leading "---" aside) is
	// taken whole.
	nonEmpty := 0
	for _, d := range docs {
		if len(bytes.TrimSpace(d)) > 0 {
			nonEmpty++
		}
	}
	for _, d := range docs {
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(d, &head); err != nil {
			continue
		}
		if head.Kind == "CustomResourceDefinition" && head.Metadata.Name == name {
			if nonEmpty == 1 {
				return raw, nil
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("no CustomResourceDefinition %s in it", name)
}

const refPrefix = "#/components/schemas/"

// trimOpenAPI keeps the component schemas reachable from kinds, without
// descriptions, and nothing else of the document.
func trimOpenAPI(raw []byte, kinds []gvk) ([]byte, error) {
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Info       any    `json:"info"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	all := doc.Components.Schemas
	keep := map[string]any{}
	var walk func(name string) error
	walk = func(name string) error {
		if _, ok := keep[name]; ok {
			return nil
		}
		s, ok := all[name]
		if !ok {
			return fmt.Errorf("$ref to %s, which is not in the document", name)
		}
		keep[name] = s
		var refs []string
		collectRefs(s, &refs)
		for _, r := range refs {
			if err := walk(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, k := range kinds {
		name, err := componentOf(all, k)
		if err != nil {
			return nil, err
		}
		if err := walk(name); err != nil {
			return nil, err
		}
	}
	for _, s := range keep {
		dropDescriptions(s)
	}
	out := map[string]any{
		"openapi":    doc.OpenAPI,
		"info":       doc.Info,
		"components": map[string]any{"schemas": keep},
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// componentOf finds the component whose x-kubernetes-group-version-kind is
// exactly k.
func componentOf(all map[string]map[string]any, k gvk) (string, error) {
	var found []string
	for name, s := range all {
		list, _ := s["x-kubernetes-group-version-kind"].([]any)
		if len(list) != 1 {
			continue
		}
		m, _ := list[0].(map[string]any)
		if m["group"] == k.Group && m["version"] == k.Version && m["kind"] == k.Kind {
			found = append(found, name)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("want one component for %s/%s %s, found %v", k.Group, k.Version, k.Kind, found)
	}
	return found[0], nil
}

func collectRefs(v any, refs *[]string) {
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["$ref"].(string); ok && strings.HasPrefix(r, refPrefix) {
			*refs = append(*refs, strings.TrimPrefix(r, refPrefix))
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			collectRefs(v[k], refs)
		}
	case []any:
		for _, x := range v {
			collectRefs(x, refs)
		}
	}
}

// dropDescriptions removes the description of a schema and of every schema
// inside it. It follows the schema keywords, so a property that happens to be
// named "description" stays.
func dropDescriptions(v any) {
	s, ok := v.(map[string]any)
	if !ok {
		return
	}
	delete(s, "description")
	if props, ok := s["properties"].(map[string]any); ok {
		for _, p := range props {
			dropDescriptions(p)
		}
	}
	for _, k := range []string{"items", "additionalProperties", "not"} {
		dropDescriptions(s[k])
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if list, ok := s[k].([]any); ok {
			for _, x := range list {
				dropDescriptions(x)
			}
		}
	}
}

func readme(rows []string) []byte {
	var b strings.Builder
	b.WriteString(readmeHead)
	b.WriteString("| file | schema of | module@version | path inside | sha256 of that file | taken |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	b.WriteString(readmeTail)
	return []byte(b.String())
}

const readmeHead = `# Schemas of the manifest check

Generated by ` + "`make schemas`" + ` (cmd/nova/internal/manifests/validation/schemagen); do not edit.
` + "`make schemas-check`" + ` (part of ` + "`make test`" + `) regenerates them and fails
naming any file here that differs. Every file comes from a module version
downloaded through the Go module proxy with ` + "`go mod download`" + `, whose
checksum the Go checksum database vouches for.

`

const readmeTail = `
Notes:

- **KafkaSource**: eventing-kafka-broker itself is not served by the module
  proxy; the Knative operator embeds the release manifests it installs. Its
  v1beta1 schema is the same, descriptions aside, in every later release.
  Later releases also serve ` + "`sources.knative.dev/v1`" + `, which this check does
  not know: manifests stay on v1beta1.
- **Trigger** has ` + "`x-kubernetes-preserve-unknown-fields`" + ` on ` + "`spec`" + `, so an
  API server keeps unknown keys there; the check does too (it reports what
  the API server and Knative's webhook reject, nothing more).
- **ServiceMonitor / PrometheusRule** are prometheus-operator v0.85.0's
  (the newest release whose root module the proxy serves). Fields added
  later (ServiceMonitor ` + "`scrapeNativeHistograms`, `serviceDiscoveryRole`, `extraScrapeMetrics`" + `)
  are reported as unknown.
- **Built-ins** come from Kubernetes v1.37.2's OpenAPI v3 documents. They
  carry types, required fields and formats, not the Go validation an API
  server adds for built-in kinds (selector/label agreement, port ranges,
  container names and the like), nor enum values, which they give in prose
  only (a Service ` + "`type: Nodeport`" + ` passes the check, not a cluster).
- **Strimzi** (KafkaTopic, KafkaUser) has no schema here: no registry serves
  its CRDs. See ../strimzi/README.md.
`

func write(dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	have, err := listFiles(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, n := range have {
		if _, ok := files[n]; !ok {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// compare lists the files of dir that differ from files, are missing or
// should not be there.
func compare(dir string, files map[string][]byte) ([]string, error) {
	have, err := listFiles(dir)
	if err != nil {
		return nil, err
	}
	var stale []string
	for n, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			stale = append(stale, filepath.Join(dir, n)+" is missing")
		case err != nil:
			return nil, err
		case !bytes.Equal(got, want):
			stale = append(stale, filepath.Join(dir, n)+" is stale")
		}
	}
	for _, n := range have {
		if _, ok := files[n]; !ok {
			stale = append(stale, filepath.Join(dir, n)+" is not generated from any source")
		}
	}
	slices.Sort(stale)
	return stale, nil
}

func listFiles(dir string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	return names, err
}
