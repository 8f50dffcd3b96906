// Package manifests builds a kustomization in process, as `kubectl apply
// -k` builds it, and reads from the result what the local runtime runs:
// the ConfigMaps func.yaml files reference, the KafkaSources, and the
// Brokers and Triggers. So nova run runs exactly the objects a cluster
// would get, whichever overlay is named, and never an object the
// kustomization leaves out or deletes.
package manifests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/sender"
)

// Object is one object of a build.
type Object struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// Origin is the file the object was read from (the build directory
	// joined with the path kustomize recorded), or "" for an object a
	// generator made.
	Origin string
	// YAML is the object as kubectl would send it.
	YAML []byte
}

// String names the object for messages: its file when known, and its kind
// and name.
func (o Object) String() string {
	ns := o.Namespace
	if ns == "" {
		ns = source.DefaultNamespace
	}
	return fmt.Sprintf("%s %s/%s", o.Kind, ns, o.Name)
}

// ErrNotKustomization is returned for a directory without a kustomization
// file.
var ErrNotKustomization = errors.New("not a kustomization directory")

// Build runs kustomize on dir with kubectl's defaults (no plugins, files
// only from within the kustomization's tree, resources in the order the
// kustomizations list them).
func Build(dir string) ([]Object, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("manifests: %s: %w", dir, err)
	}
	found := false
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if _, err := os.Stat(filepath.Join(abs, name)); err == nil {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("manifests: %s: %w (no kustomization.yaml): give the directory kubectl apply -k would apply", dir, ErrNotKustomization)
	}
	fs := originTracking{FileSystem: filesys.MakeFsOnDisk(), root: abs, injected: new(bool)}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, abs)
	if err != nil {
		return nil, fmt.Errorf("manifests: kustomize build %s: %w", dir, err)
	}
	var out []Object
	for _, r := range m.Resources() {
		o := Object{APIVersion: r.GetApiVersion(), Kind: r.GetKind(), Name: r.GetName(), Namespace: r.GetNamespace()}
		origin, err := r.GetOrigin()
		if err != nil {
			return nil, fmt.Errorf("manifests: kustomize build %s: %s: %w", dir, o, err)
		}
		if origin != nil && origin.Path != "" && origin.Repo == "" {
			o.Origin = filepath.Join(dir, origin.Path)
		}
		if *fs.injected {
			// The annotation was asked for here, for messages; the object
			// is given as kubectl would apply it.
			if err := r.SetOrigin(nil); err != nil {
				return nil, fmt.Errorf("manifests: kustomize build %s: %s: %w", dir, o, err)
			}
			if len(r.GetAnnotations()) == 0 {
				if err := r.SetAnnotations(nil); err != nil {
					return nil, fmt.Errorf("manifests: kustomize build %s: %s: %w", dir, o, err)
				}
			}
		}
		if o.YAML, err = r.AsYAML(); err != nil {
			return nil, fmt.Errorf("manifests: kustomize build %s: %s: %w", dir, o, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// originTracking is the disk with one change: the top kustomization asks
// for origin annotations (buildMetadata: [originAnnotations]), so every
// object carries the file it came from and messages can name it. Nothing
// on disk is written.
type originTracking struct {
	filesys.FileSystem
	root     string
	injected *bool // set once the annotations were asked for here
}

func (f originTracking) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil || filepath.Dir(filepath.Clean(path)) != f.root || !isKustomizationFile(filepath.Base(path)) {
		return data, err
	}
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil || k == nil {
		return data, nil //nolint:nilerr // not ours to report: kustomize reports it
	}
	meta, _ := k["buildMetadata"].([]any)
	for _, m := range meta {
		if m == "originAnnotations" {
			return data, nil
		}
	}
	k["buildMetadata"] = append(meta, "originAnnotations")
	*f.injected = true
	return yaml.Marshal(k)
}

func isKustomizationFile(name string) bool {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if name == n {
			return true
		}
	}
	return false
}

// Set is what the runtime takes from a build.
type Set struct {
	// Dir is the kustomization that was built.
	Dir string
	// ConfigMaps by name, then key.
	ConfigMaps map[string]map[string]string
	Sources    []source.KafkaSource
	// Brokers are resolved: their topic configuration is read from their
	// ConfigMap.
	Brokers  []eventbroker.Broker
	Triggers []eventbroker.Trigger
	// Policies are the EventPolicies: who may send to each function and
	// Broker.
	Policies []Policy
	// KafkaUsers are the Strimzi KafkaUsers: the local broker's users and
	// their ACLs.
	KafkaUsers []KafkaUser
	// Secrets are the Secrets the manifests hold themselves (such as the
	// KafkaSources' user names), by name, then key.
	Secrets map[string]map[string]string
}

// Load builds dir and reads its ConfigMaps, KafkaSources, Brokers,
// Triggers and EventPolicies with the shared readers, which refuse what
// Knative would refuse, and checks that the policies, the senders the
// functions read (nova-event-senders) and the deliveries agree.
// Every fault is reported, each naming the file and the object.
func Load(dir string) (*Set, error) {
	objs, err := Build(dir)
	if err != nil {
		return nil, err
	}
	set := &Set{Dir: dir, ConfigMaps: map[string]map[string]string{}, Secrets: map[string]map[string]string{}}
	var (
		errs     []error
		cmFrom   = map[string]string{}
		brokers  []eventbroker.Broker
		triggers []eventbroker.Trigger
	)
	for _, o := range objs {
		file := o.Origin
		if file == "" {
			file = "kustomize build " + dir
		}
		switch o.Kind {
		case "ConfigMap":
			cms, err := funchost.ParseConfigMaps(file, o.YAML)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for name, data := range cms {
				if prev, dup := cmFrom[name]; dup {
					errs = append(errs, fmt.Errorf("%s: %s: ConfigMap %s is also defined in %s (functions read ConfigMaps by name)", file, o, name, prev))
					continue
				}
				cmFrom[name] = file
				set.ConfigMaps[name] = data
			}
		case "KafkaUser":
			u, err := parseKafkaUser(file, o.YAML)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			set.KafkaUsers = append(set.KafkaUsers, u)
		case "Secret":
			name, data, err := parseSecret(file, o.YAML)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			set.Secrets[name] = data
		case source.Kind:
			srcs, err := source.Parse(file, o.YAML)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", o, err))
				continue
			}
			set.Sources = append(set.Sources, srcs...)
		case EventPolicyKind:
			p, err := parsePolicy(file, o)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			set.Policies = append(set.Policies, p)
		case eventbroker.BrokerKind, eventbroker.TriggerKind:
			bs, ts, err := eventbroker.Parse(file, o.YAML)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			brokers = append(brokers, bs...)
			triggers = append(triggers, ts...)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if set.Brokers, err = eventbroker.Resolve(brokers, triggers, set.ConfigMaps); err != nil {
		return nil, err
	}
	set.Triggers = triggers
	if err := checkPolicies(set); err != nil {
		return nil, err
	}
	return set, nil
}

// BrokerSenders is who may post to Broker ref ("<namespace>/<name>"): the
// senders of its EventPolicy, or nil when none applies (Knative then
// admits any service account of the Broker's namespace, its default
// authorization mode).
func (s *Set) BrokerSenders(namespace, name string) []sender.Ref {
	for _, p := range s.Policies {
		if p.Broker == name && p.Namespace == namespace {
			return p.Senders
		}
	}
	return nil
}
