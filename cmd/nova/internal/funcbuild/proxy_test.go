package funcbuild_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
)

// gitRepo makes a repository holding a module example.com/lib with a nested
// module, a vendor folder, an export-ignored file, and files outside git.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "go.mod", "module example.com/lib\n\ngo 1.26.0\n")
	write(t, dir, "lib.go", "package lib\n\n// Answer is the answer.\nconst Answer = 42\n")
	write(t, dir, "sub/sub.go", "package sub\n")
	write(t, dir, "nested/go.mod", "module example.com/lib/nested\n")
	write(t, dir, "nested/n.go", "package nested\n")
	write(t, dir, "vendor/example.com/x/x.go", "package x\n")
	write(t, dir, "secret.txt", "export-ignored\n")
	write(t, dir, ".gitattributes", "secret.txt export-ignore\n")
	write(t, dir, ".gitignore", "/ignored.txt\n")
	runIn(t, dir, nil, "git", "init", "--quiet", "-b", "main")
	gitCommit(t, dir, "first")
	write(t, dir, "ignored.txt", "git-ignored\n")
	write(t, dir, "untracked.go", "package lib\n")
	return dir
}

// gitCommit commits paths (everything when none is named).
func gitCommit(t *testing.T, dir, msg string, paths ...string) {
	t.Helper()
	runIn(t, dir, nil, "git", append([]string{"add", "-A", "--"}, paths...)...)
	runIn(t, dir, nil, "git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", msg)
}

func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

func TestProxyServesTheCommittedModule(t *testing.T) {
	repo := gitRepo(t)
	proxy := t.TempDir()
	m, err := funcbuild.Proxy(context.Background(), funcbuild.ProxyConfig{
		Dir: proxy, Repo: repo, Path: "example.com/lib", Version: "v0.1.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Sum, "h1:") || !strings.HasPrefix(m.ModSum, "h1:") || m.Time.IsZero() || len(m.Commit) != 40 {
		t.Fatalf("module %+v", m)
	}

	// The zip holds what git holds at the commit, minus the nested module,
	// vendor/ and export-ignored files; never files outside git.
	zr, err := zip.OpenReader(filepath.Join(proxy, "example.com/lib/@v/v0.1.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, strings.TrimPrefix(f.Name, "example.com/lib@v0.1.0/"))
	}
	zr.Close()
	sort.Strings(names)
	if got, want := strings.Join(names, " "), ".gitattributes .gitignore go.mod lib.go sub/sub.go"; got != want {
		t.Errorf("zip holds %s, want %s", got, want)
	}
	var info struct{ Version, Time string }
	raw, _ := os.ReadFile(filepath.Join(proxy, "example.com/lib/@v/v0.1.0.info"))
	if err := json.Unmarshal(raw, &info); err != nil || info.Version != "v0.1.0" || info.Time == "" {
		t.Errorf(".info %s (%v)", raw, err)
	}

	// The go command takes the proxy as it takes proxy.golang.org, and its
	// hashes are the ones Proxy reported.
	consumer := t.TempDir()
	write(t, consumer, "go.mod", "module example.com/app\n\ngo 1.26.0\n\nrequire example.com/lib v0.1.0\n")
	write(t, consumer, "main.go", "package main\n\nimport \"example.com/lib\"\n\nfunc main() { println(lib.Answer) }\n")
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GONOSUMDB=example.com/lib",
		"GOPROXY="+(&url.URL{Scheme: "file", Path: proxy}).String(),
		"GOMODCACHE="+t.TempDir()) // a fresh cache: nothing here comes from an earlier run
	runIn(t, consumer, env, "go", "build", "-o", filepath.Join(t.TempDir(), "app"), ".")
	gosum, _ := os.ReadFile(filepath.Join(consumer, "go.sum"))
	for _, line := range m.GoSumLines() {
		if !strings.Contains(string(gosum), line+"\n") {
			t.Errorf("go.sum lacks %q:\n%s", line, gosum)
		}
	}
	modcacheClean(t, env)

	// The hash depends on the module's files only: a commit touching only
	// the nested module leaves it, one touching the module changes it.
	write(t, repo, "nested/n.go", "package nested\n\nconst X = 1\n")
	gitCommit(t, repo, "nested only", "nested")
	again, err := funcbuild.Proxy(context.Background(), funcbuild.ProxyConfig{Dir: t.TempDir(), Repo: repo, Path: "example.com/lib", Version: "v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Sum != m.Sum || again.Commit == m.Commit {
		t.Errorf("after a nested-module commit: sum %s (was %s), commit %s (was %s)", again.Sum, m.Sum, again.Commit, m.Commit)
	}
	write(t, repo, "lib.go", "package lib\n\nconst Answer = 43\n")
	gitCommit(t, repo, "change", "lib.go")
	changed, err := funcbuild.Proxy(context.Background(), funcbuild.ProxyConfig{Dir: proxy, Repo: repo, Path: "example.com/lib", Version: "v0.2.0"})
	if err != nil {
		t.Fatal(err)
	}
	if changed.Sum == m.Sum {
		t.Error("a changed module kept its hash")
	}
	if list, _ := os.ReadFile(filepath.Join(proxy, "example.com/lib/@v/list")); string(list) != "v0.1.0\nv0.2.0\n" {
		t.Errorf("list %q", list)
	}
	// An older revision by name.
	first, err := funcbuild.Proxy(context.Background(), funcbuild.ProxyConfig{Dir: t.TempDir(), Repo: repo, Revision: "HEAD~2", Path: "example.com/lib", Version: "v0.1.0"})
	if err != nil || first.Sum != m.Sum || first.Commit != m.Commit {
		t.Errorf("HEAD~2: %+v, %v; want the first commit's module", first, err)
	}
}

func TestProxyRefusesBadVersions(t *testing.T) {
	repo := gitRepo(t)
	for _, v := range []string{"1.0.0", "v1.0", "v2.0.0", "vX"} {
		if _, err := funcbuild.Proxy(context.Background(), funcbuild.ProxyConfig{Dir: t.TempDir(), Repo: repo, Path: "example.com/lib", Version: v}); err == nil {
			t.Errorf("version %s accepted", v)
		}
	}
	if _, err := funcbuild.Proxy(context.Background(), funcbuild.ProxyConfig{Dir: t.TempDir(), Repo: repo, Revision: "no-such-rev", Path: "example.com/lib", Version: "v1.0.0"}); err == nil || !strings.Contains(err.Error(), "no-such-rev") {
		t.Errorf("unknown revision: %v", err)
	}
}

// modcacheClean empties a test's module cache, whose folders the go command
// makes read-only.
func modcacheClean(t *testing.T, env []string) {
	t.Helper()
	runIn(t, t.TempDir(), env, "go", "clean", "-modcache")
}
