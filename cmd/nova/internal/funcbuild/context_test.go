package funcbuild_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
)

func TestContextCopiesWhatFuncSends(t *testing.T) {
	src := t.TempDir()
	write(t, src, ".funcignore", "/go.work\ntestdata\n*_test.go\n")
	write(t, src, "go.mod", "module example.com/fn\n")
	write(t, src, "go.work", "go 1.26.0\n")
	write(t, src, "function.go", "package function\n")
	write(t, src, "function_test.go", "package function\n")
	write(t, src, "inner/go.work", "kept: only the root one is anchored\n")
	write(t, src, "inner/testdata/x", "x")
	write(t, src, ".git/HEAD", "ref: refs/heads/main\n")
	write(t, src, ".func/build/main.go", "package main\n")
	write(t, src, ".gitignore", "/.func\n")
	if err := os.Chmod(filepath.Join(src, "function.go"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../function.go", filepath.Join(src, "inner", "link.go")); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "ctx")
	if err := funcbuild.Context(src, dst); err != nil {
		t.Fatal(err)
	}
	got := tree(t, dst)
	want := []string{"function.go", "go.mod", "inner/", "inner/go.work", "inner/link.go -> ../function.go"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("context holds\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if fi, err := os.Stat(filepath.Join(dst, "function.go")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("function.go mode %v (%v), want 0600", fi.Mode(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "inner", "link.go")); err != nil || string(b) != "package function\n" {
		t.Errorf("the kept link does not read through: %q, %v", b, err)
	}
}

func TestContextRefusesLinksLeavingIt(t *testing.T) {
	for name, to := range map[string]string{"absolute": "/etc/passwd", "outside": "../../elsewhere", "parent": ".."} {
		t.Run(name, func(t *testing.T) {
			src := t.TempDir()
			write(t, src, "go.mod", "module example.com/fn\n")
			if err := os.Symlink(to, filepath.Join(src, "link")); err != nil {
				t.Fatal(err)
			}
			err := funcbuild.Context(src, filepath.Join(t.TempDir(), "ctx"))
			if !errors.Is(err, funcbuild.ErrLink) || !strings.Contains(err.Error(), "link -> "+to) {
				t.Fatalf("got %v, want ErrLink naming link -> %s", err, to)
			}
		})
	}
}

// tree lists dir: folders with a trailing slash, links with their target.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			to, _ := os.Readlink(p)
			rel += " -> " + to
		case d.IsDir():
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
