package registry_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/registry"
)

const root = "../../../.."

// Every function in the tree is hosted, under the name its func.yaml gives,
// on a port no other function has.
func TestEveryFunctionIsRegistered(t *testing.T) {
	byDir := map[string]registry.Function{}
	slots := map[int]string{}
	for _, f := range registry.Functions() {
		byDir[filepath.Clean(f.Dir)] = f
		if other, dup := slots[f.Slot]; dup {
			t.Errorf("%s and %s share slot %d", f.Name, other, f.Slot)
		}
		slots[f.Slot] = f.Name
		fy, err := funchost.LoadFuncYAML(filepath.Join(root, f.Dir))
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		if fy.Name != f.Name {
			t.Errorf("registered as %s but %s/func.yaml names it %s", f.Name, f.Dir, fy.Name)
		}
		if fy.InvokeKind() != funchost.InvokeHTTP {
			t.Errorf("%s/func.yaml: invoke %s; Nova's functions are invoke: http (events through shared/event/eventfunc)", f.Dir, fy.InvokeKind())
		}
	}
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join("functions", d.Name())
		if _, err := os.Stat(filepath.Join(root, dir, "func.yaml")); err != nil {
			continue
		}
		if _, ok := byDir[dir]; !ok {
			t.Errorf("%s has a func.yaml but is not in registry.Functions(): import it in cmd/nova/internal/registry and add it to cmd/nova/go.mod", dir)
		}
	}
	if _, ok := byDir["."]; !ok {
		t.Error("nova-api (the root function) is not registered")
	}
}

// Only the public functions are reachable from outside the cluster: every
// other one is cluster-local (func.yaml deploy.labels), and the
// NetworkPolicy of eventing/ admits Knative's data plane to exactly those.
func TestPrivateFunctionsAreClusterLocal(t *testing.T) {
	var private []string
	for _, f := range registry.Functions() {
		fy, err := funchost.LoadFuncYAML(filepath.Join(root, f.Dir))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		v, set := fy.Label(funchost.VisibilityLabel)
		switch {
		case f.Public && set:
			t.Errorf("%s/func.yaml: %s: %s, but %s is reached by users", f.Dir, funchost.VisibilityLabel, v, f.Name)
		case !f.Public && v != funchost.VisibilityClusterLocal:
			t.Errorf("%s/func.yaml: deploy.labels lack %s: %s; without it Knative puts %s on the public ingress",
				f.Dir, funchost.VisibilityLabel, funchost.VisibilityClusterLocal, f.Name)
		}
		if !f.Public {
			private = append(private, f.Name)
		}
	}

	objs, err := manifests.Build(filepath.Join(root, "eventing"))
	if err != nil {
		t.Fatal(err)
	}
	var selected []string
	found := false
	for _, o := range objs {
		if o.Kind != "NetworkPolicy" || o.Name != "nova-private-functions" {
			continue
		}
		found = true
		var np struct {
			Spec struct {
				PodSelector struct {
					MatchExpressions []struct {
						Key      string   `json:"key"`
						Operator string   `json:"operator"`
						Values   []string `json:"values"`
					} `json:"matchExpressions"`
				} `json:"podSelector"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(o.YAML, &np); err != nil {
			t.Fatal(err)
		}
		for _, e := range np.Spec.PodSelector.MatchExpressions {
			if e.Key == "function.knative.dev/name" && e.Operator == "In" {
				selected = append(selected, e.Values...)
			}
		}
	}
	if !found {
		t.Fatal("eventing/ has no NetworkPolicy nova-private-functions")
	}
	slices.Sort(private)
	slices.Sort(selected)
	if !slices.Equal(private, selected) {
		t.Errorf("NetworkPolicy nova-private-functions selects %v, want the private functions %v", selected, private)
	}
}
