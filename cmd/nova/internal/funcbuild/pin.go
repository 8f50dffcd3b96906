package funcbuild

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
)

// PinConfig says which release of which module a function module is pinned to.
type PinConfig struct {
	// Dir is the function module's directory.
	Dir string
	// Module is the release: Path and Version, and when it comes from
	// Proxy its hashes, which go.sum must end up with.
	Module Module
	// ProxyDir is a local proxy (see Proxy) consulted before the user's
	// GOPROXY; "" for the user's GOPROXY alone (a pushed release).
	ProxyDir string
	// Env is the environment the go command starts from. Default: the
	// process environment.
	Env []string
}

// Validate reports a configuration Pin cannot work with.
func (c PinConfig) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("funcbuild: pin: no module directory")
	case c.Module.Path == "" || c.Module.Version == "":
		return errors.New("funcbuild: pin: no module version")
	case c.ProxyDir != "" && !filepath.IsAbs(c.ProxyDir):
		return fmt.Errorf("funcbuild: pin: proxy directory %s is not absolute", c.ProxyDir)
	}
	return nil
}

// Pin makes the function module in cfg.Dir require cfg.Module at its
// version instead of replacing it with a local folder, then runs go mod
// tidy so go.sum records the release's hashes: what kn func needs, since its
// scaffold drops replace directives.
func Pin(ctx context.Context, cfg PinConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	m := cfg.Module
	fail := func(err error) error {
		return fmt.Errorf("funcbuild: pin %s to %s@%s: %w", cfg.Dir, m.Path, m.Version, err)
	}
	env := environ(cfg.Env)
	if m.Sum != "" {
		goenv, err := GoEnv(ctx, env, "GOMODCACHE")
		if err != nil {
			return fail(err)
		}
		if _, err := ForgetStale(goenv["GOMODCACHE"], m); err != nil {
			return fail(err)
		}
		// Likewise lines an earlier pin to the same version left in go.sum.
		if err := dropSumLines(filepath.Join(cfg.Dir, "go.sum"), m.Path+" "+m.Version); err != nil {
			return fail(err)
		}
	}
	env, err := ModEnv(ctx, env, cfg.ProxyDir, m.Path)
	if err != nil {
		return fail(err)
	}
	if err := runGo(ctx, cfg.Dir, env, "mod", "edit", "-dropreplace="+m.Path, "-require="+m.Path+"@"+m.Version); err != nil {
		return fail(err)
	}
	if err := runGo(ctx, cfg.Dir, env, "mod", "tidy"); err != nil {
		return fail(err)
	}
	if err := checkPinned(cfg.Dir, m); err != nil {
		return fail(err)
	}
	return nil
}

// ModEnv is env set up for go mod commands on one module of the tree
// against a local proxy: GOWORK=off (the module alone, as its builder sees
// it), GOFLAGS=-mod=mod, the proxy dir (if any) in front of the user's
// GOPROXY, and the modules it serves, which sum.golang.org does not know
// before they are pushed, added to GONOSUMDB.
func ModEnv(ctx context.Context, env []string, proxyDir string, served ...string) ([]string, error) {
	goenv, err := GoEnv(ctx, env, "GOPROXY", "GONOSUMDB")
	if err != nil {
		return nil, err
	}
	nosum := strings.Join(served, ",")
	if goenv["GONOSUMDB"] != "" {
		nosum = strings.TrimPrefix(nosum+","+goenv["GONOSUMDB"], ",")
	}
	return setEnv(env,
		"GOWORK=off",
		"GOFLAGS=-mod=mod",
		"GOPROXY="+proxyList(proxyDir, goenv["GOPROXY"]),
		"GONOSUMDB="+nosum,
		// The go command indexes a module in its cache by its path@version
		// alone, for ever. A version served here again with other contents
		// (a release retried after a fix) would be read through the old
		// index, whatever ForgetStale removed: read the files instead.
		"GODEBUG=goindex=0",
	), nil
}

// GoMod runs go mod args in dir with env (see ModEnv), quoting the go
// command's output on failure.
func GoMod(ctx context.Context, dir string, env []string, args ...string) error {
	return runGo(ctx, dir, env, append([]string{"mod"}, args...)...)
}

// Requires reports whether the module in dir requires the module path
// (pinning a module that does not is meaningless: go mod tidy drops the
// requirement again).
func Requires(dir, path string) (bool, error) {
	f, err := ReadGoMod(dir)
	if err != nil {
		return false, fmt.Errorf("funcbuild: %w", err)
	}
	return slices.ContainsFunc(f.Require, func(r *modfile.Require) bool { return r.Mod.Path == path }), nil
}

// checkPinned checks that dir's go.mod requires m without replacing it, and
// that its go.sum holds m's hashes when they are known.
func checkPinned(dir string, m Module) error {
	f, err := ReadGoMod(dir)
	if err != nil {
		return err
	}
	for _, r := range f.Replace {
		if r.Old.Path == m.Path {
			return fmt.Errorf("go.mod still replaces %s", m.Path)
		}
	}
	if !slices.ContainsFunc(f.Require, func(r *modfile.Require) bool { return r.Mod.Path == m.Path && r.Mod.Version == m.Version }) {
		return fmt.Errorf("go.mod does not require %s %s after go mod tidy (does the module import it?)", m.Path, m.Version)
	}
	if m.Sum == "" {
		return nil
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		return err
	}
	for _, want := range m.GoSumLines() {
		if !slices.Contains(strings.Split(string(sum), "\n"), want) {
			return fmt.Errorf("go.sum lacks %q: the module cache or GOPROXY served other contents under that version", want)
		}
	}
	return nil
}

// UnpinConfig says which module a function module goes back to replacing
// with a local folder.
type UnpinConfig struct {
	// Dir is the function module's directory.
	Dir string
	// Path is the module replaced, Local the folder replacing it (relative
	// to Dir, as in "../..").
	Path, Local string
	// Version is what go.mod requires of it while replaced. Default
	// v0.0.0: a placeholder, since the folder is what builds.
	Version string
	// Env is the environment the go command starts from. Default: the
	// process environment.
	Env []string
}

// Unpin undoes Pin: cfg.Dir requires cfg.Path at the placeholder version,
// replaced by the local folder, and go mod tidy drops the release's hashes.
func Unpin(ctx context.Context, cfg UnpinConfig) error {
	if cfg.Dir == "" || cfg.Path == "" || cfg.Local == "" {
		return errors.New("funcbuild: unpin: directory, module path and local folder are required")
	}
	if cfg.Version == "" {
		cfg.Version = "v0.0.0"
	}
	env := setEnv(environ(cfg.Env), "GOWORK=off", "GOFLAGS=-mod=mod")
	for _, args := range [][]string{
		{"mod", "edit", "-require=" + cfg.Path + "@" + cfg.Version, "-replace=" + cfg.Path + "=" + cfg.Local},
		{"mod", "tidy"},
	} {
		if err := runGo(ctx, cfg.Dir, env, args...); err != nil {
			return fmt.Errorf("funcbuild: unpin %s: %w", cfg.Dir, err)
		}
	}
	return nil
}

// dropSumLines removes the go.sum lines of one module version ("path
// version", both its zip and its go.mod hash).
func dropSumLines(path, pathVersion string) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var keep []string
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if strings.HasPrefix(line, pathVersion+" ") || strings.HasPrefix(line, pathVersion+"/go.mod ") {
			continue
		}
		keep = append(keep, line)
	}
	return os.WriteFile(path, []byte(strings.Join(keep, "")), 0o644)
}

// ReadGoMod parses the go.mod in dir.
func ReadGoMod(dir string) (*modfile.File, error) {
	p := filepath.Join(dir, "go.mod")
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return modfile.Parse(p, raw, nil)
}
