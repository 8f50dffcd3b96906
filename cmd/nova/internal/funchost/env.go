package funchost

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/cmd/nova/internal/kobject"
)

// ref matches a kn func template: {{ env:NAME }}, {{ configMap:MAP:KEY }},
// {{ secret:NAME:KEY }}, or a whole map without the key.
var ref = regexp.MustCompile(`\{\{\s*(env|configMap|secret)\s*:\s*([\w.-]+)\s*(?::\s*([\w.-]+)\s*)?\}\}`)

var wholeMapRef = regexp.MustCompile(`^\s*\{\{\s*(configMap|secret)\s*:\s*([\w.-]+)\s*\}\}\s*$`)

// ErrUnresolved marks a run.envs reference with no value.
var ErrUnresolved = errors.New("unresolved func.yaml reference")

// Resolver turns run.envs into the configuration a function instance gets.
//
// On a cluster the ConfigMap and Secret references are resolved by
// Kubernetes; locally ConfigMaps come from the manifests (LoadConfigMaps) and
// any key can be overridden by an environment variable of the same name, so
// KAFKA_BROKERS=... points every function at another cluster. Secrets have
// no local manifest: they come from the environment only.
type Resolver struct {
	// ConfigMaps by name, then key.
	ConfigMaps map[string]map[string]string
	// Env is the process environment as the functions should see it
	// (Environ() plus whatever the host adds, such as the embedded broker's
	// address).
	Env map[string]string
	// Secrets by name, then key, are the Secrets the local runtime makes
	// itself (the embedded Kafka's logins); a secret reference found here
	// is not looked up in Env.
	Secrets map[string]map[string]string
}

// Environ returns the process environment as a map.
func Environ() map[string]string {
	m := make(map[string]string)
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Config is what func-go's Service.Start hands the instance's Start hook:
// the environment, here with the function's resolved run.envs on top (on a
// cluster those are the container's environment).
func (r Resolver) Config(f *FuncYAML) (map[string]string, error) {
	cfg := make(map[string]string, len(r.Env)+len(f.Run.Envs))
	for k, v := range r.Env {
		cfg[k] = v
	}
	envs, err := r.Resolve(f.Run.Envs)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", f.Name, err)
	}
	for k, v := range envs {
		cfg[k] = v
	}
	return cfg, nil
}

// Resolve resolves run.envs entries to variables.
func (r Resolver) Resolve(envs []Env) (map[string]string, error) {
	out := make(map[string]string, len(envs))
	for i, e := range envs {
		if e.Name == "" {
			m := wholeMapRef.FindStringSubmatch(e.Value)
			if m == nil {
				return nil, fmt.Errorf("run.envs[%d]: %w: a nameless entry must be {{ configMap:NAME }} or {{ secret:NAME }}", i, ErrUnresolved)
			}
			all, err := r.whole(m[1], m[2])
			if err != nil {
				return nil, fmt.Errorf("run.envs[%d]: %w", i, err)
			}
			for k, v := range all {
				out[k] = v
			}
			continue
		}
		v, err := r.expand(e.Value)
		if err != nil {
			return nil, fmt.Errorf("run.envs %s: %w", e.Name, err)
		}
		out[e.Name] = v
	}
	return out, nil
}

func (r Resolver) expand(s string) (string, error) {
	var firstErr error
	out := ref.ReplaceAllStringFunc(s, func(tok string) string {
		m := ref.FindStringSubmatch(tok)
		v, err := r.lookup(m[1], m[2], m[3])
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	return out, firstErr
}

func (r Resolver) lookup(kind, name, key string) (string, error) {
	switch kind {
	case "env":
		if key != "" {
			return "", fmt.Errorf("%w: {{ env:%s:%s }} takes one name", ErrUnresolved, name, key)
		}
		if v, ok := r.Env[name]; ok {
			return v, nil
		}
		return "", fmt.Errorf("%w: environment variable %s is not set", ErrUnresolved, name)
	case "configMap":
		if key == "" {
			return "", fmt.Errorf("%w: {{ configMap:%s }} without a key needs a nameless run.envs entry", ErrUnresolved, name)
		}
		if v, ok := r.Env[key]; ok {
			return v, nil
		}
		cm, ok := r.ConfigMaps[name]
		if !ok {
			return "", fmt.Errorf("%w: ConfigMap %s not found in the manifests", ErrUnresolved, name)
		}
		if v, ok := cm[key]; ok {
			return v, nil
		}
		return "", fmt.Errorf("%w: ConfigMap %s has no key %s (and no environment variable %s is set)", ErrUnresolved, name, key, key)
	default: // secret
		if key == "" {
			return "", fmt.Errorf("%w: {{ secret:%s }} without a key needs a nameless run.envs entry", ErrUnresolved, name)
		}
		if v, ok := r.Secrets[name][key]; ok {
			return v, nil
		}
		if v, ok := r.Env[key]; ok {
			return v, nil
		}
		return "", fmt.Errorf("%w: secret %s key %s: set environment variable %s locally", ErrUnresolved, name, key, key)
	}
}

func (r Resolver) whole(kind, name string) (map[string]string, error) {
	if kind == "secret" {
		// Locally there is no secret store, and importing the whole
		// environment under a secret's name would hide mistakes.
		return nil, fmt.Errorf("%w: {{ secret:%s }}: name each key so it can be read from the environment", ErrUnresolved, name)
	}
	cm, ok := r.ConfigMaps[name]
	if !ok {
		return nil, fmt.Errorf("%w: ConfigMap %s not found in the manifests", ErrUnresolved, name)
	}
	out := make(map[string]string, len(cm))
	for k, v := range cm {
		if ev, ok := r.Env[k]; ok {
			v = ev
		}
		out[k] = v
	}
	return out, nil
}

// configMap is the part of a ConfigMap manifest that matters here.
type configMap struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
}

// LoadConfigMaps reads every ConfigMap in the YAML manifests under dir
// (recursively, multi-document files included), by name. Other kinds are
// skipped. A name defined twice is an error: which one a cluster ends up with
// would depend on apply order.
func LoadConfigMaps(dir string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	where := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return addConfigMaps(out, where, path, raw)
	})
	if err != nil {
		return nil, fmt.Errorf("funchost: load ConfigMaps from %s: %w", dir, err)
	}
	return out, nil
}

// ParseConfigMaps reads the ConfigMaps of one YAML stream (a manifest file,
// or the objects a kustomize build produced) by name; origin names the
// stream in errors. Other kinds are skipped; a name defined twice is an
// error.
func ParseConfigMaps(origin string, data []byte) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	if err := addConfigMaps(out, map[string]string{}, origin, data); err != nil {
		return nil, fmt.Errorf("funchost: ConfigMaps of %s: %w", origin, err)
	}
	return out, nil
}

// addConfigMaps adds the ConfigMaps of the stream raw, read from origin, to
// out; where remembers where each name came from.
func addConfigMaps(out map[string]map[string]string, where map[string]string, origin string, raw []byte) error {
	for i, doc := range kobject.Documents(raw) {
		var cm configMap
		if err := yaml.Unmarshal(doc, &cm); err != nil || cm.Kind != "ConfigMap" {
			// Not ours to judge: other kinds (and files that are
			// not plain manifests) have their own readers.
			continue
		}
		here := fmt.Sprintf("%s (document %d)", origin, i+1)
		if prev, dup := where[cm.Metadata.Name]; dup {
			return fmt.Errorf("ConfigMap %s defined in %s and in %s", cm.Metadata.Name, prev, here)
		}
		where[cm.Metadata.Name] = here
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		out[cm.Metadata.Name] = cm.Data
	}
	return nil
}
