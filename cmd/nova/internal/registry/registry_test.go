package registry_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
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
