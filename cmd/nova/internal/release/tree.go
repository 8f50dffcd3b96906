// Package release cuts a release of Nova's root module: the functions,
// each a module of its own, are pinned to it for kn func (whose scaffold
// drops their local replace), the pinned tree is committed and tagged, and
// the functions go back to the local root module for development.
package release

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

// RootModule is the module a release versions.
const RootModule = "github.com/nova-social/nova"

// Tree is a checkout's Go modules, as folders relative to its root.
type Tree struct {
	Root string
	// Functions are functions/<name>, each requiring the root module.
	Functions []string
	// Others are the remaining modules besides the root (cmd/nova), which
	// require functions and so must follow their pins.
	Others []string
}

// Modules finds the modules under root the way the Makefile does: every
// folder with a go.mod, skipping hidden folders, testdata, bin and
// node_modules.
func Modules(root string) (Tree, error) {
	t := Tree{Root: root}
	raw, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return t, fmt.Errorf("release: %w", err)
	}
	if p := modfile.ModulePath(raw); p != RootModule {
		return t, fmt.Errorf("release: %s holds module %q, not %s", root, p, RootModule)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root {
			switch name := d.Name(); {
			case strings.HasPrefix(name, "."), name == "testdata", name == "bin", name == "node_modules":
				return filepath.SkipDir
			}
		}
		if d.Name() != "go.mod" || d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if dir, name := filepath.Split(rel); dir == "functions/" && name != "" {
			t.Functions = append(t.Functions, rel)
		} else {
			t.Others = append(t.Others, rel)
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("release: %w", err)
	}
	sort.Strings(t.Functions)
	sort.Strings(t.Others)
	if len(t.Functions) == 0 {
		return t, fmt.Errorf("release: no functions/*/go.mod under %s", root)
	}
	return t, nil
}
