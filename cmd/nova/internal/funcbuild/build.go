package funcbuild

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BuildConfig says what Build builds and with which settings.
type BuildConfig struct {
	// Name is the function's name, for messages.
	Name string
	// Dir is the function directory (the build context), already
	// scaffolded (see Scaffold).
	Dir string
	// Out is the binary to write.
	Out string
	// BuildEnv is the func.yaml build.buildEnvs as NAME=VALUE (see
	// funchost.FuncYAML.BuildEnv); it overrides everything else.
	BuildEnv []string
	// ProxyDir is a local module proxy (see Proxy) in front of GOPROXY, and
	// NoSumDB the modules it serves, which sum.golang.org does not know.
	ProxyDir string
	NoSumDB  []string
	// GOPROXY, GOCACHE and GOMODCACHE are the host's, shared so the build
	// downloads and compiles only what the host has not. Default: go env.
	GOPROXY, GOCACHE, GOMODCACHE string
	// Env is where PATH and HOME (and the go env defaults) are read from.
	// Default: the process environment.
	Env []string
}

// Validate reports a configuration Build cannot work with.
func (c BuildConfig) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("no function directory"))
	}
	if c.Out == "" {
		errs = append(errs, errors.New("no output binary"))
	}
	if c.ProxyDir != "" && !filepath.IsAbs(c.ProxyDir) {
		errs = append(errs, fmt.Errorf("proxy directory %s is not absolute", c.ProxyDir))
	}
	for _, kv := range c.BuildEnv {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			errs = append(errs, fmt.Errorf("build variable %q is not NAME=VALUE", kv))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("funcbuild: build %s: %w", c.Name, err)
	}
	return nil
}

// Built is what Build produced.
type Built struct {
	Binary   string
	Size     int64
	Duration time.Duration
}

// Build does what the Paketo Go buildpacks do with a function func has
// scaffolded, on this machine: go mod vendor in the function directory
// (go-mod-vendor; read-only, so go.mod and go.sum must be tidy; the vendor
// folder goes to a temporary directory to leave the context as it was),
// then go build -buildmode=pie -trimpath of .func/build (go-build).
//
// The environment is made from scratch, as a builder's is: PATH, HOME, the
// shared caches, GOENV=off (this machine's go env -w settings do not reach
// a builder), GOTOOLCHAIN=local, CGO_ENABLED=0, the GOPROXY and GONOSUMDB
// that serve the local proxy, and then the func.yaml build.buildEnvs, the
// only settings a function can give its builder.
func Build(ctx context.Context, cfg BuildConfig) (Built, error) {
	if err := cfg.Validate(); err != nil {
		return Built{}, err
	}
	start := time.Now()
	fail := func(step string, err error) (Built, error) {
		return Built{}, fmt.Errorf("function %s: %s: %w", cfg.Name, step, err)
	}
	env, err := cfg.environment(ctx)
	if err != nil {
		return fail("environment", err)
	}
	tmp, err := os.MkdirTemp("", "funcbuild-vendor-*")
	if err != nil {
		return fail("vendor", err)
	}
	defer os.RemoveAll(tmp)
	if err := runGo(ctx, cfg.Dir, env, "mod", "vendor", "-o", filepath.Join(tmp, "vendor")); err != nil {
		return fail("go mod vendor in the function directory (Paketo go-mod-vendor)", err)
	}
	out, err := filepath.Abs(cfg.Out)
	if err != nil {
		return fail("build", err)
	}
	if err := runGo(ctx, filepath.Join(cfg.Dir, BuildDir), env, "build", "-buildmode=pie", "-trimpath", "-o", out, "."); err != nil {
		return fail("go build in "+BuildDir+" (Paketo go-build)", err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		return fail("build", err)
	}
	return Built{Binary: out, Size: fi.Size(), Duration: time.Since(start)}, nil
}

// environment is the builder's environment.
func (c BuildConfig) environment(ctx context.Context) ([]string, error) {
	host := environ(c.Env)
	if c.GOPROXY == "" || c.GOCACHE == "" || c.GOMODCACHE == "" {
		goenv, err := GoEnv(ctx, host, "GOPROXY", "GOCACHE", "GOMODCACHE")
		if err != nil {
			return nil, err
		}
		c.GOPROXY = cmp.Or(c.GOPROXY, goenv["GOPROXY"])
		c.GOCACHE = cmp.Or(c.GOCACHE, goenv["GOCACHE"])
		c.GOMODCACHE = cmp.Or(c.GOMODCACHE, goenv["GOMODCACHE"])
	}
	env := []string{
		"PATH=" + lookup(host, "PATH"),
		"HOME=" + lookup(host, "HOME"),
		"GOCACHE=" + c.GOCACHE,
		"GOMODCACHE=" + c.GOMODCACHE,
		"GOENV=off",
		"GOTOOLCHAIN=local",
		"CGO_ENABLED=0",
		"GOPROXY=" + proxyList(c.ProxyDir, c.GOPROXY),
	}
	if len(c.NoSumDB) > 0 {
		env = append(env, "GONOSUMDB="+strings.Join(c.NoSumDB, ","))
	}
	return setEnv(env, c.BuildEnv...), nil
}

func lookup(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}
