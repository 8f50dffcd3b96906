package funcbuild_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
)

func TestParseIgnore(t *testing.T) {
	dir := t.TempDir()
	if got, err := funcbuild.ParseIgnore(dir); err != nil || got != nil {
		t.Fatalf("no .funcignore: %v, %v", got, err)
	}
	write(t, dir, ".funcignore", "# comment\n\n  /go.work  \nbin/\n*.tmp\n")
	got, err := funcbuild.ParseIgnore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/go.work", "bin/", "*.tmp"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("patterns %q, want %q", got, want)
	}
}

func TestIsIgnored(t *testing.T) {
	patterns := []string{"/go.work", "/cmd", "bin/", "*.tmp", "testdata", "shared/x/*.txt"}
	for rel, want := range map[string]bool{
		// The defaults, by name at any depth.
		".git": true, "a/.git/config": true, ".func/build/main.go": true, "sub/.gitignore": true, ".funcignore": true,
		// Anchored at the root only.
		"go.work": true, "sub/go.work": false, "cmd": true, "cmd/nova/main.go": true, "shared/cmd/x.go": false,
		// Unanchored: the name or the whole path, at any depth.
		"bin": true, "bin/tool": true, "a/bin/tool": true, "x.tmp": true, "a/b/x.tmp": true,
		"shared/auth/testdata/key.pem": true, "shared/x/a.txt": true, "shared/y/a.txt": false,
		// No "**", no negation, nothing else.
		"go.mod": false, "function.go": false, "binary": false, ".": false,
	} {
		if got := funcbuild.IsIgnored(rel, patterns); got != want {
			t.Errorf("IsIgnored(%q) = %v, want %v", rel, got, want)
		}
	}
	// "**" is two "*", each within one path element.
	if funcbuild.IsIgnored("a/b/c.go", []string{"**/*.go"}) {
		t.Error(`"**" matched across folders; func has no "**"`)
	}
	if !funcbuild.IsIgnored("keep.txt", []string{"*.txt", "!keep.txt"}) {
		t.Error(`"!" negated a pattern; func has no negation`)
	}
}

func write(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
