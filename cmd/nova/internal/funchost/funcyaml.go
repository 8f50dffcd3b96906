// Package funchost runs Knative functions the way their production image
// does — func-go's http Service, with its health endpoints and middleware —
// but several in one process, each on its own listener, configured from its
// func.yaml as `kn func deploy` would configure it.
package funchost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Invoke kinds a func.yaml may declare.
const (
	InvokeCloudEvent = "cloudevent"
	InvokeHTTP       = "http"
)

// FuncYAML is the part of a func.yaml Nova reads.
type FuncYAML struct {
	SpecVersion string    `json:"specVersion"`
	Name        string    `json:"name"`
	Runtime     string    `json:"runtime"`
	Invoke      string    `json:"invoke"`
	Created     time.Time `json:"created"`
	Build       struct {
		// BuildEnvs are the variables the pack and s2i builders set
		// while building the image (not at run time).
		BuildEnvs []Env `json:"buildEnvs"`
	} `json:"build"`
	Run struct {
		Envs []Env `json:"envs"`
	} `json:"run"`
	Deploy struct {
		// Labels go on the Knative Service and its pods.
		Labels  []Label `json:"labels"`
		Options struct {
			Scale *Scale `json:"scale"`
		} `json:"options"`
	} `json:"deploy"`

	// Dir is the folder the file was read from.
	Dir string `json:"-"`
}

// Env is one run.envs entry. Without a name, the value must reference a
// whole ConfigMap or Secret ("{{ configMap:nova-config }}"), whose every key
// becomes a variable.
type Env struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
}

// Label is one deploy.labels entry: a literal value or {{ env:NAME }}.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// VisibilityLabel makes a Knative Service reachable only inside the
// cluster when set to VisibilityClusterLocal.
const (
	VisibilityLabel        = "networking.knative.dev/visibility"
	VisibilityClusterLocal = "cluster-local"
)

// Label returns the value of the deploy label key, and whether it is set.
func (f *FuncYAML) Label(key string) (string, bool) {
	for _, l := range f.Deploy.Labels {
		if l.Key == key {
			return l.Value, true
		}
	}
	return "", false
}

// Scale is deploy.options.scale, the Knative autoscaling bounds.
type Scale struct {
	Min         *int64   `json:"min,omitempty"`
	Max         *int64   `json:"max,omitempty"`
	Metric      string   `json:"metric,omitempty"`
	Target      *float64 `json:"target,omitempty"`
	Utilization *float64 `json:"utilization,omitempty"`
}

// envRef is the one template a build variable may hold.
var envRef = regexp.MustCompile(`^\s*\{\{\s*env\s*:\s*(\w+)\s*\}\}\s*$`)

// ErrFuncYAML marks a func.yaml that cannot be used.
var ErrFuncYAML = errors.New("invalid func.yaml")

// LoadFuncYAML reads dir/func.yaml.
func LoadFuncYAML(dir string) (*FuncYAML, error) {
	path := filepath.Join(dir, "func.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("funchost: %w", err)
	}
	f, err := ParseFuncYAML(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Dir = dir
	return f, nil
}

// ParseFuncYAML parses and checks a func.yaml.
func ParseFuncYAML(raw []byte) (*FuncYAML, error) {
	var f FuncYAML
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFuncYAML, err)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Validate checks the fields Nova relies on.
func (f *FuncYAML) Validate() error {
	switch {
	case f.SpecVersion == "":
		return fmt.Errorf("%w: specVersion is required", ErrFuncYAML)
	case f.Name == "":
		return fmt.Errorf("%w: name is required", ErrFuncYAML)
	case f.Runtime != "go":
		return fmt.Errorf("%w: runtime %q, Nova hosts go functions only", ErrFuncYAML, f.Runtime)
	}
	switch f.Invoke {
	case "", InvokeHTTP, InvokeCloudEvent:
	default:
		return fmt.Errorf("%w: invoke %q, want %s or %s", ErrFuncYAML, f.Invoke, InvokeHTTP, InvokeCloudEvent)
	}
	for i, e := range f.Run.Envs {
		if e.Name == "" && !wholeMapRef.MatchString(e.Value) {
			return fmt.Errorf("%w: run.envs[%d] has no name and its value is not a {{ configMap:NAME }} or {{ secret:NAME }} reference", ErrFuncYAML, i)
		}
	}
	for i, e := range f.Build.BuildEnvs {
		// kn func takes a build variable's value literally or from the
		// local environment; a builder has no ConfigMaps or Secrets.
		if e.Name == "" {
			return fmt.Errorf("%w: build.buildEnvs[%d] has no name", ErrFuncYAML, i)
		}
		if strings.HasPrefix(strings.TrimSpace(e.Value), "{{") && !envRef.MatchString(e.Value) {
			return fmt.Errorf("%w: build.buildEnvs %s: a template value must be {{ env:NAME }}", ErrFuncYAML, e.Name)
		}
	}
	seen := map[string]bool{}
	for i, l := range f.Deploy.Labels {
		// kn func refuses what the API server would: a qualified key and a
		// label value, or a value from the local environment.
		if errs := validation.IsQualifiedName(l.Key); len(errs) > 0 {
			return fmt.Errorf("%w: deploy.labels[%d] key %q: %s", ErrFuncYAML, i, l.Key, strings.Join(errs, "; "))
		}
		if seen[l.Key] {
			return fmt.Errorf("%w: deploy.labels: key %s given twice", ErrFuncYAML, l.Key)
		}
		seen[l.Key] = true
		if strings.HasPrefix(strings.TrimSpace(l.Value), "{{") {
			if !envRef.MatchString(l.Value) {
				return fmt.Errorf("%w: deploy.labels %s: a template value must be {{ env:NAME }}", ErrFuncYAML, l.Key)
			}
			continue
		}
		if errs := validation.IsValidLabelValue(l.Value); len(errs) > 0 {
			return fmt.Errorf("%w: deploy.labels %s value %q: %s", ErrFuncYAML, l.Key, l.Value, strings.Join(errs, "; "))
		}
	}
	if s := f.Deploy.Options.Scale; s != nil && s.Min != nil && s.Max != nil && *s.Max > 0 && *s.Min > *s.Max {
		return fmt.Errorf("%w: deploy.options.scale min %d > max %d", ErrFuncYAML, *s.Min, *s.Max)
	}
	return nil
}

// InvokeKind is the declared invoke, http when unset (kn func's default).
func (f *FuncYAML) InvokeKind() string {
	if f.Invoke == "" {
		return InvokeHTTP
	}
	return f.Invoke
}

// BuildEnv returns build.buildEnvs as NAME=VALUE pairs in file order, each
// {{ env:NAME }} taken from lookup (the environment of whoever runs the
// build, as kn func does). A variable lookup lacks is an error.
func (f *FuncYAML) BuildEnv(lookup func(string) (string, bool)) ([]string, error) {
	out := make([]string, 0, len(f.Build.BuildEnvs))
	for _, e := range f.Build.BuildEnvs {
		v := e.Value
		if m := envRef.FindStringSubmatch(v); m != nil {
			var ok bool
			if v, ok = lookup(m[1]); !ok {
				return nil, fmt.Errorf("function %s: build.buildEnvs %s: %w: environment variable %s is not set", f.Name, e.Name, ErrUnresolved, m[1])
			}
		}
		out = append(out, e.Name+"="+v)
	}
	return out, nil
}
