package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/mod/modfile"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
)

// LocalRoot is how a function reaches the root module in development.
const LocalRoot = "../.."

// PinConfig says what PinAll pins the tree's functions to.
type PinConfig struct {
	Tree Tree
	// Module is the root module's release (Path, Version, and the hashes
	// when it comes from funcbuild.Proxy).
	Module funcbuild.Module
	// ProxyDir serves it before the user's GOPROXY; "" when it is pushed.
	ProxyDir string
	// Env is the go command's environment. Default: the process's.
	Env []string
	// Log receives a line per module.
	Log io.Writer
}

// PinAll pins every function to the release and tidies the other modules
// (cmd/nova) so they build with the pinned functions. It stops at the
// first module that fails, naming it, and puts every go.mod and go.sum
// back as it was: half a tree pinned does not even build the nova command.
func PinAll(ctx context.Context, cfg PinConfig) (err error) {
	log := logTo(cfg.Log)
	saved, err := snapshot(cfg.Tree)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, saved.restore())
		}
	}()
	for _, fn := range cfg.Tree.Functions {
		if uses, err := funcbuild.Requires(filepath.Join(cfg.Tree.Root, fn), cfg.Module.Path); err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		} else if !uses {
			fmt.Fprintf(log, "==> %s: does not use %s\n", fn, cfg.Module.Path)
			continue
		}
		fmt.Fprintf(log, "==> %s: require %s %s, no local replace\n", fn, cfg.Module.Path, cfg.Module.Version)
		err := funcbuild.Pin(ctx, funcbuild.PinConfig{
			Dir: filepath.Join(cfg.Tree.Root, fn), Module: cfg.Module, ProxyDir: cfg.ProxyDir, Env: cfg.Env,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
	}
	return followOthers(ctx, cfg.Tree, cfg.Module.Version, cfg.ProxyDir, cfg.Env, log)
}

// UnpinAll points every function back at the local root module and tidies
// the other modules; on failure every go.mod and go.sum is put back.
func UnpinAll(ctx context.Context, tree Tree, env []string, log io.Writer) (err error) {
	log = logTo(log)
	saved, err := snapshot(tree)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, saved.restore())
		}
	}()
	for _, fn := range tree.Functions {
		if uses, err := funcbuild.Requires(filepath.Join(tree.Root, fn), RootModule); err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		} else if !uses {
			continue
		}
		fmt.Fprintf(log, "==> %s: replace %s => %s\n", fn, RootModule, LocalRoot)
		err := funcbuild.Unpin(ctx, funcbuild.UnpinConfig{Dir: filepath.Join(tree.Root, fn), Path: RootModule, Local: LocalRoot, Env: env})
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
	}
	return followOthers(ctx, tree, Unreleased, "", env, log)
}

// Unreleased is the version the tree requires the root module at while it
// replaces it with the local folder.
const Unreleased = "v0.0.0"

// followOthers makes the modules besides the root and the functions
// (cmd/nova) require the root module at version: they require the
// functions, whose requirement of the root module at a release would
// otherwise be newer than theirs, and go build refuses a go.mod that the
// module graph has outgrown. They keep replacing the root module and the
// functions with the local folders.
func followOthers(ctx context.Context, tree Tree, version, proxyDir string, env []string, log io.Writer) error {
	env, err := funcbuild.ModEnv(ctx, environ(env), proxyDir, RootModule)
	if err != nil {
		return err
	}
	for _, dir := range tree.Others {
		path := filepath.Join(tree.Root, dir)
		f, err := funcbuild.ReadGoMod(path)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		if !slices.ContainsFunc(f.Require, func(r *modfile.Require) bool { return r.Mod.Path == RootModule }) {
			continue
		}
		fmt.Fprintf(log, "==> %s: require %s %s (still replaced by the local folder), go mod tidy\n", dir, RootModule, version)
		if err := funcbuild.GoMod(ctx, path, env, "edit", "-require="+RootModule+"@"+version); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		if err := funcbuild.GoMod(ctx, path, env, "tidy"); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	return nil
}

func environ(env []string) []string {
	if env != nil {
		return env
	}
	return os.Environ()
}

// files holds go.mod and go.sum contents by path (nil: the file did not
// exist).
type files map[string][]byte

// snapshot reads the go.mod and go.sum of every module of tree but the root.
func snapshot(tree Tree) (files, error) {
	saved := files{}
	for _, dir := range append(slices.Clone(tree.Functions), tree.Others...) {
		for _, name := range []string{"go.mod", "go.sum"} {
			p := filepath.Join(tree.Root, dir, name)
			b, err := os.ReadFile(p)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("release: %w", err)
			}
			saved[p] = b
		}
	}
	return saved, nil
}

// restore writes the files back (and removes those that did not exist).
func (saved files) restore() error {
	var errs []error
	for p, b := range saved {
		if b == nil {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("putting go.mod and go.sum back: %w", err)
	}
	return nil
}

func logTo(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
