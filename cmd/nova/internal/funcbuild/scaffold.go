package funcbuild

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// BuildDir is where Scaffold writes, relative to the function directory:
// func's .func/build, which every builder builds in.
const BuildDir = ".func/build"

// unpublished is the version the scaffold requires the function module at;
// a replace by ./f provides it.
const unpublished = "v0.0.0-00010101000000-000000000000"

// ErrSignature marks a function whose root package declares neither or
// both of func's signatures.
var ErrSignature = errors.New("signature detection error")

// DetectSignature reports whether the function in dir is instanced (a
// package-level func New) or static (a package-level func Handle), looking,
// like func, at every .go file directly in dir, tests included, by name
// only. A file that does not parse counts as declaring nothing.
func DetectSignature(dir string) (instanced bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("funcbuild: %w", err)
	}
	var hasNew, hasHandle bool
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil {
				continue
			}
			switch fn.Name.Name {
			case "New":
				hasNew = true
			case "Handle":
				hasHandle = true
			}
		}
	}
	switch {
	case hasNew && hasHandle:
		return false, fmt.Errorf("funcbuild: %s: %w: both static (func Handle) and instanced (func New) signatures found", dir, ErrSignature)
	case !hasNew && !hasHandle:
		return false, fmt.Errorf("funcbuild: %s: %w: no signatures found (a package-level func New or func Handle)", dir, ErrSignature)
	}
	return hasNew, nil
}

// Scaffold writes dir/.func/build, the module func builds around the
// function in dir for the func.yaml invoke ("" is http):
//
//   - main.go starting the function's root package through func-go;
//   - go.mod, the template's for that invoke, patched as func patches it:
//     the go directive raised to the function's if that is newer, the
//     function module required and replaced by ./f, and the function's
//     requirements added only for modules the template does not already
//     require (the template's version wins; replace directives are not
//     carried over);
//   - go.sum, the template's followed by the function's;
//   - f, a symbolic link to the function directory.
//
// Whatever was in .func/build before is removed.
func Scaffold(dir, invoke string) error {
	if invoke == "" {
		invoke = "http"
	}
	fail := func(err error) error { return fmt.Errorf("funcbuild: scaffold %s: %w", dir, err) }
	tmpl, ok := templates[invoke]
	if !ok {
		return fail(fmt.Errorf("no scaffolding for invoke %q (http or cloudevent)", invoke))
	}
	fnMod, err := ReadGoMod(dir)
	if err != nil {
		return fail(fmt.Errorf("cannot read the function's go.mod: %w", err))
	}
	if fnMod.Module == nil {
		return fail(errors.New("the function's go.mod has no module line"))
	}
	instanced, err := DetectSignature(dir)
	if err != nil {
		return err
	}
	main, err := mainGo(fnMod.Module.Mod.Path, invoke == "http", instanced)
	if err != nil {
		return fail(err)
	}
	gomod, err := scaffoldGoMod(tmpl, fnMod)
	if err != nil {
		return fail(err)
	}
	gosum := append([]byte(nil), tmpl.sum...)
	if fnSum, err := os.ReadFile(filepath.Join(dir, "go.sum")); err == nil {
		gosum = append(gosum, fnSum...)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fail(err)
	}

	out := filepath.Join(dir, BuildDir)
	if err := removeReadOnly(out); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fail(err)
	}
	for name, data := range map[string][]byte{"main.go": main, "go.mod": gomod, "go.sum": gosum} {
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return fail(err)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fail(err)
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fail(err)
	}
	link, err := filepath.Rel(absOut, abs)
	if err != nil {
		return fail(err)
	}
	if err := os.Symlink(link, filepath.Join(out, "f")); err != nil {
		return fail(err)
	}
	return nil
}

// scaffoldGoMod is the template's go.mod patched for the function fn.
func scaffoldGoMod(tmpl scaffoldTemplate, fn *modfile.File) ([]byte, error) {
	f := new(modfile.File)
	if err := f.AddModuleStmt("s"); err != nil {
		return nil, err
	}
	goVersion := tmpl.goVersion
	if fn.Go != nil && semver.Compare("v"+fn.Go.Version, "v"+goVersion) > 0 {
		goVersion = fn.Go.Version
	}
	if err := f.AddGoStmt(goVersion); err != nil {
		return nil, err
	}
	self := fn.Module.Mod.Path
	if err := f.AddReplace(self, "", "./f", ""); err != nil {
		return nil, err
	}
	reqs := []*modfile.Require{{Mod: module.Version{Path: self, Version: unpublished}}}
	have := map[string]bool{self: true}
	for _, m := range tmpl.require {
		reqs = append(reqs, &modfile.Require{Mod: m})
		have[m.Path] = true
	}
	for _, m := range tmpl.indirect {
		reqs = append(reqs, &modfile.Require{Mod: m, Indirect: true})
		have[m.Path] = true
	}
	for _, r := range fn.Require {
		if have[r.Mod.Path] {
			continue // the template's version stays, even when lower
		}
		// Added as func adds them: without the function's // indirect.
		reqs = append(reqs, &modfile.Require{Mod: r.Mod})
		have[r.Mod.Path] = true
	}
	f.SetRequireSeparateIndirect(reqs)
	f.Cleanup()
	return modfile.Format(f.Syntax), nil
}
