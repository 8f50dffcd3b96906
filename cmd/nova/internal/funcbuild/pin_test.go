package funcbuild_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
)

// monorepo is gitRepo plus a function module that uses the root module
// through a local replace, as Nova's functions do.
func monorepo(t *testing.T) (repo, fn string) {
	t.Helper()
	repo = gitRepo(t)
	fn = filepath.Join(repo, "functions", "fn")
	write(t, repo, "functions/fn/go.mod", "module example.com/lib/functions/fn\n\ngo 1.26.0\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../..\n")
	write(t, repo, "functions/fn/fn.go", "package fn\n\nimport \"example.com/lib\"\n\n// Answer is the library's.\nconst Answer = lib.Answer\n")
	gitCommit(t, repo, "function", "functions")
	return repo, fn
}

// isolatedEnv is the environment with a module cache of the test's own
// and no way out to the network.
func isolatedEnv(t *testing.T) []string {
	env := append(os.Environ(), "GOMODCACHE="+t.TempDir(), "GOPROXY=off", "GONOSUMDB=", "GOFLAGS=")
	t.Cleanup(func() { modcacheClean(t, env) })
	return env
}

func TestPinAndUnpin(t *testing.T) {
	ctx := context.Background()
	repo, fn := monorepo(t)
	env := isolatedEnv(t)
	before, _ := os.ReadFile(filepath.Join(fn, "go.mod"))
	proxy := t.TempDir()
	m, err := funcbuild.Proxy(ctx, funcbuild.ProxyConfig{Dir: proxy, Repo: repo, Path: "example.com/lib", Version: "v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := funcbuild.Pin(ctx, funcbuild.PinConfig{Dir: fn, Module: m, ProxyDir: proxy, Env: env}); err != nil {
		t.Fatal(err)
	}
	gomod, _ := os.ReadFile(filepath.Join(fn, "go.mod"))
	gosum, _ := os.ReadFile(filepath.Join(fn, "go.sum"))
	if !strings.Contains(string(gomod), "require example.com/lib v0.1.0") || strings.Contains(string(gomod), "replace") {
		t.Errorf("pinned go.mod:\n%s", gomod)
	}
	if want := strings.Join(m.GoSumLines(), "\n") + "\n"; string(gosum) != want {
		t.Errorf("pinned go.sum:\n%s\nwant:\n%s", gosum, want)
	}
	// Pinned, the module builds read-only from the proxy alone.
	runIn(t, fn, append(env, "GOWORK=off", "GOFLAGS=-mod=readonly", "GONOSUMDB=example.com/lib", "GOPROXY=file://"+proxy), "go", "build", "./...")

	if err := funcbuild.Unpin(ctx, funcbuild.UnpinConfig{Dir: fn, Path: "example.com/lib", Local: "../..", Env: env}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(fn, "go.mod")); string(after) != string(before) {
		t.Errorf("unpinned go.mod:\n%s\nwant it as it was:\n%s", after, before)
	}
	if gosum, _ := os.ReadFile(filepath.Join(fn, "go.sum")); strings.Contains(string(gosum), "example.com/lib") {
		t.Errorf("unpinned go.sum still holds the release:\n%s", gosum)
	}
}

// The same version made again from another revision replaces the stale copy
// in the module cache: go.sum gets the new hash, not the cached one.
func TestPinForgetsAStaleCachedVersion(t *testing.T) {
	ctx := context.Background()
	repo, fn := monorepo(t)
	env := isolatedEnv(t)
	pin := func() funcbuild.Module {
		t.Helper()
		proxy := t.TempDir()
		m, err := funcbuild.Proxy(ctx, funcbuild.ProxyConfig{Dir: proxy, Repo: repo, Path: "example.com/lib", Version: "v0.0.0-check"})
		if err != nil {
			t.Fatal(err)
		}
		if err := funcbuild.Pin(ctx, funcbuild.PinConfig{Dir: fn, Module: m, ProxyDir: proxy, Env: env}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := pin()
	runIn(t, repo, nil, "git", "checkout", "--quiet", "--", "functions")
	write(t, repo, "lib.go", "package lib\n\nconst Answer = 7\n")
	gitCommit(t, repo, "change", "lib.go")
	second := pin()
	if first.Sum == second.Sum {
		t.Fatal("setup: the two revisions have the same module hash")
	}
	gosum, _ := os.ReadFile(filepath.Join(fn, "go.sum"))
	if !strings.Contains(string(gosum), second.Sum) || strings.Contains(string(gosum), first.Sum) {
		t.Errorf("go.sum after re-pinning:\n%s\nwant %s, not %s", gosum, second.Sum, first.Sum)
	}
}
