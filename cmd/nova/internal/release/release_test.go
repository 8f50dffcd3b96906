package release_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
	"github.com/nova-social/nova/cmd/nova/internal/release"
)

// The release tests run on a throwaway clone of this repository's HEAD.
const version = "v0.0.1-releasetest"

func clone(t *testing.T) string {
	t.Helper()
	top := strings.TrimSpace(gitOut(t, ".", "rev-parse", "--show-toplevel"))
	dir := filepath.Join(t.TempDir(), "nova")
	gitOut(t, ".", "clone", "--quiet", "--local", top, dir)
	gitOut(t, dir, "config", "user.name", "Release Test")
	gitOut(t, dir, "config", "user.email", "release-test@example.com")
	return dir
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func head(t *testing.T, dir string) string {
	return strings.TrimSpace(gitOut(t, dir, "rev-parse", "HEAD"))
}

func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole release in a clone, with every function built: make test runs it, make test-short does not")
	}
	ctx := context.Background()
	repo := clone(t)
	start := head(t, repo)
	tree, err := release.Modules(repo)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res, err := release.Release(ctx, release.Config{Root: repo, Version: version, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if res.Start != start || res.After != head(t, repo) || res.Push() != "git push origin "+res.Branch+" "+version {
		t.Errorf("result %+v (push %q), HEAD %s", res, res.Push(), head(t, repo))
	}

	// The tag: annotated, on the release commit, whose parent is the start.
	if typ := strings.TrimSpace(gitOut(t, repo, "cat-file", "-t", version)); typ != "tag" {
		t.Errorf("%s is a %s, want an annotated tag", version, typ)
	}
	if c := strings.TrimSpace(gitOut(t, repo, "rev-parse", version+"^{commit}")); c != res.Tagged {
		t.Errorf("tag on %s, want %s", c, res.Tagged)
	}
	if log := gitOut(t, repo, "log", "--format=%s", start+".."+res.After); log != "after "+version+": functions use the local root module again\n"+
		"release "+version+": functions require github.com/nova-social/nova "+version+"\n" {
		t.Errorf("commits since the start:\n%s", log)
	}

	// At the tag every function requires the release, replaces nothing,
	// and its go.sum holds the hash of the module zip made from the tag.
	fromTag, err := funcbuild.Proxy(ctx, funcbuild.ProxyConfig{Dir: t.TempDir(), Repo: repo, Revision: version, Path: release.RootModule, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	if fromTag.Sum != res.Module.Sum {
		t.Errorf("the tag's module zip hashes to %s, the release recorded %s", fromTag.Sum, res.Module.Sum)
	}
	for _, fn := range tree.Functions {
		gomod := gitOut(t, repo, "show", version+":"+fn+"/go.mod")
		gosum := gitOut(t, repo, "show", version+":"+fn+"/go.sum")
		if !strings.Contains(gomod, "\tgithub.com/nova-social/nova "+version+"\n") || strings.Contains(gomod, "replace github.com/nova-social/nova") {
			t.Errorf("%s/go.mod at the tag:\n%s", fn, gomod)
		}
		for _, line := range fromTag.GoSumLines() {
			if !strings.Contains(gosum, line+"\n") {
				t.Errorf("%s/go.sum at the tag lacks %q", fn, line)
			}
		}
	}

	// HEAD is back on the local root module: every go.mod and go.sum as
	// it was before the release, and the tree clean.
	for _, fn := range tree.Functions {
		if gomod, _ := os.ReadFile(filepath.Join(repo, fn, "go.mod")); !strings.Contains(string(gomod), "replace github.com/nova-social/nova => ../..") {
			t.Errorf("%s/go.mod at HEAD:\n%s", fn, gomod)
		}
	}
	if diff := gitOut(t, repo, "diff", "--stat", start, "HEAD"); diff != "" {
		t.Errorf("HEAD differs from the start:\n%s", diff)
	}
	if st := gitOut(t, repo, "status", "--porcelain"); st != "" {
		t.Errorf("tree not clean:\n%s", st)
	}

	// cmd/nova, which replaces the functions and the root module with the
	// local folders, still loads at the tag.
	gitOut(t, repo, "checkout", "--quiet", "--detach", version)
	cmd := exec.Command("go", "list", "-deps", "./...")
	cmd.Dir = filepath.Join(repo, "cmd", "nova")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("cmd/nova at the tag: %v\n%s", err, out)
	}
}

func TestReleaseRefusesAndRestores(t *testing.T) {
	ctx := context.Background()
	repo := clone(t)
	start := head(t, repo)

	if _, err := release.Release(ctx, release.Config{Root: repo, Version: "v0.3"}); err == nil {
		t.Error("a non-canonical version was accepted")
	}
	if _, err := release.Release(ctx, release.Config{Root: repo, Version: "v2.0.0"}); err == nil {
		t.Error("v2.0.0 was accepted for a module path without /v2")
	}

	os.WriteFile(filepath.Join(repo, "scratch.txt"), []byte("x"), 0o644)
	if _, err := release.Release(ctx, release.Config{Root: repo, Version: version}); err == nil || !strings.Contains(err.Error(), "not clean") {
		t.Errorf("dirty tree: %v", err)
	}
	os.Remove(filepath.Join(repo, "scratch.txt"))

	gitOut(t, repo, "tag", version)
	if _, err := release.Release(ctx, release.Config{Root: repo, Version: version}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("tag taken: %v", err)
	}
	gitOut(t, repo, "tag", "--delete", version)
	if h := head(t, repo); h != start {
		t.Errorf("HEAD %s after refused releases, want %s", h, start)
	}

	// A function that cannot be pinned (it imports a package the root
	// module does not have) stops the release, and everything is undone.
	broken := filepath.Join(repo, "functions", "aaa-broken")
	os.MkdirAll(broken, 0o755)
	os.WriteFile(filepath.Join(broken, "go.mod"), []byte("module github.com/nova-social/nova/functions/aaa-broken\n\ngo 1.26.0\n\nrequire github.com/nova-social/nova v0.0.0\n\nreplace github.com/nova-social/nova => ../..\n"), 0o644)
	os.WriteFile(filepath.Join(broken, "f.go"), []byte("package f\n\nimport _ \"github.com/nova-social/nova/shared/nosuchpackage\"\n"), 0o644)
	gitOut(t, repo, "add", "functions/aaa-broken")
	gitOut(t, repo, "commit", "--quiet", "-m", "a function that cannot be pinned")
	start = head(t, repo)
	_, err := release.Release(ctx, release.Config{Root: repo, Version: version})
	if err == nil || !strings.Contains(err.Error(), "functions/aaa-broken") || !strings.Contains(err.Error(), "nosuchpackage") {
		t.Fatalf("broken function: %v; want an error naming it and quoting go", err)
	}
	if h := head(t, repo); h != start {
		t.Errorf("HEAD %s after a failed release, want %s", h, start)
	}
	if st := gitOut(t, repo, "status", "--porcelain"); st != "" {
		t.Errorf("tree not clean after a failed release:\n%s", st)
	}
	if tags := gitOut(t, repo, "tag", "--list", version); tags != "" {
		t.Errorf("tag left behind: %s", tags)
	}
}

// A pin that fails part of the way puts back the modules it had pinned:
// half a tree pinned does not even build the nova command that undoes it.
func TestPinAllPutsEverythingBack(t *testing.T) {
	if testing.Short() {
		t.Skip("every function pinned and unpinned in a clone: make test runs it, make test-short does not")
	}
	ctx := context.Background()
	repo := clone(t)
	broken := filepath.Join(repo, "functions", "zzz-broken")
	os.MkdirAll(broken, 0o755)
	os.WriteFile(filepath.Join(broken, "go.mod"), []byte("module github.com/nova-social/nova/functions/zzz-broken\n\ngo 1.26.0\n\nrequire github.com/nova-social/nova v0.0.0\n\nreplace github.com/nova-social/nova => ../..\n"), 0o644)
	os.WriteFile(filepath.Join(broken, "f.go"), []byte("package f\n\nimport _ \"github.com/nova-social/nova/shared/nosuchpackage\"\n"), 0o644)
	tree, err := release.Modules(repo)
	if err != nil {
		t.Fatal(err)
	}
	proxy := t.TempDir()
	m, err := funcbuild.Proxy(ctx, funcbuild.ProxyConfig{Dir: proxy, Repo: repo, Path: release.RootModule, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	err = release.PinAll(ctx, release.PinConfig{Tree: tree, Module: m, ProxyDir: proxy, Log: &log})
	if err == nil || !strings.Contains(err.Error(), "functions/zzz-broken") {
		t.Fatalf("got %v, want the broken function named", err)
	}
	if !strings.Contains(log.String(), "==> functions/trust-safety: require") {
		t.Fatalf("the functions before the broken one were not pinned first:\n%s", log.String())
	}
	if st := gitOut(t, repo, "status", "--porcelain"); st != "?? functions/zzz-broken/\n" {
		t.Errorf("after a failed pin:\n%s", st)
	}
}
