package validation

import (
	"fmt"
	"path/filepath"

	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/cmd/nova/internal/manifests"
)

// built is one object of a kustomize build, as kubectl would send it.
type built struct {
	obj  map[string]any
	file string // relative to the kustomization folder; "" when unknown
}

// build runs kustomize on dir as kubectl apply -k does (manifests.Build)
// and decodes each object as an API server decodes JSON (integers as
// int64, which the schema validators tell from numbers).
func build(dir string) ([]built, error) {
	objs, err := manifests.Build(dir)
	if err != nil {
		return nil, err
	}
	out := make([]built, 0, len(objs))
	for _, o := range objs {
		var b built
		if o.Origin != "" {
			if b.file, err = filepath.Rel(dir, o.Origin); err != nil {
				b.file = o.Origin
			}
		}
		raw, err := yaml.YAMLToJSON(o.YAML)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o, err)
		}
		if err := json.Unmarshal(raw, &b.obj); err != nil {
			return nil, fmt.Errorf("%s: %w", o, err)
		}
		out = append(out, b)
	}
	return out, nil
}
