package funcbuild_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
)

var update = flag.Bool("update", false, "rewrite templates/*.sum with go mod tidy of the scaffold templates")

func TestDetectSignature(t *testing.T) {
	for name, c := range map[string]struct {
		files     map[string]string
		instanced bool
		err       bool
	}{
		"instanced": {files: map[string]string{"f.go": "package f\nfunc New() *F { return nil }\ntype F struct{}\nfunc (F) Handle() {}\n"}, instanced: true},
		"static":    {files: map[string]string{"f.go": "package f\nfunc Handle() {}\n"}},
		"both":      {files: map[string]string{"f.go": "package f\nfunc Handle() {}\n", "g.go": "package f\nfunc New() {}\n"}, err: true},
		"neither":   {files: map[string]string{"f.go": "package f\nfunc Start() {}\n"}, err: true},
		// Only package-level functions count, by name.
		"methods only": {files: map[string]string{"f.go": "package f\ntype F struct{}\nfunc (F) New() {}\nfunc (F) Handle() {}\n"}, err: true},
		// Tests are read too: a helper named Handle makes an instanced
		// function ambiguous.
		"test helper": {files: map[string]string{"f.go": "package f\nfunc New() {}\n", "f_test.go": "package f\nfunc Handle() {}\n"}, err: true},
		// Files that do not parse, and sub-folders, are not.
		"broken file": {files: map[string]string{"f.go": "package f\nfunc New() {}\n", "x.go": "package f\nfunc Handle( {\n"}, instanced: true},
		"sub-folder":  {files: map[string]string{"f.go": "package f\nfunc New() {}\n", "sub/h.go": "package sub\nfunc Handle() {}\n"}, instanced: true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for rel, src := range c.files {
				write(t, dir, rel, src)
			}
			instanced, err := funcbuild.DetectSignature(dir)
			if c.err {
				if !errors.Is(err, funcbuild.ErrSignature) {
					t.Fatalf("got %v, want ErrSignature", err)
				}
				return
			}
			if err != nil || instanced != c.instanced {
				t.Fatalf("instanced %v, %v; want %v", instanced, err, c.instanced)
			}
		})
	}
}

func TestScaffoldPatchesGoModAsFuncDoes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "go.mod", `module example.com/fn

go 1.26.0

toolchain go1.26.8

require (
	example.com/dep v1.2.3
	golang.org/x/sys v0.50.0
	knative.dev/func-go v0.22.0
)

replace example.com/dep => ./dep
`)
	write(t, dir, "go.sum", "example.com/dep v1.2.3 h1:fn=\n")
	write(t, dir, "fn.go", "package fn\nfunc New() {}\n")
	write(t, dir, ".func/build/stale", "from an earlier build\n")
	if err := funcbuild.Scaffold(dir, "cloudevent"); err != nil {
		t.Fatal(err)
	}
	build := filepath.Join(dir, funcbuild.BuildDir)
	gomod := read(t, build, "go.mod")
	for _, want := range []string{
		"module s\n",
		"go 1.26.0\n", // the function's, newer than the template's
		"\tknative.dev/func-go v0.22.0\n",
		"\tgolang.org/x/sys v0.47.0 // indirect\n",      // the template's, though the function wants v0.50.0
		"\tgithub.com/IBM/sarama v1.50.3 // indirect\n", // the template's cloudevents requirements
		"example.com/dep v1.2.3\n",                      // the function's, the template lacks it
		"example.com/fn v0.0.0-00010101000000-000000000000\n",
		"replace example.com/fn => ./f\n",
	} {
		if !strings.Contains(gomod, want) {
			t.Errorf("scaffold go.mod lacks %q:\n%s", want, gomod)
		}
	}
	for _, unwanted := range []string{"v0.50.0", "./dep", "toolchain"} {
		if strings.Contains(gomod, unwanted) {
			t.Errorf("scaffold go.mod holds %q:\n%s", unwanted, gomod)
		}
	}
	if gosum := read(t, build, "go.sum"); !strings.HasSuffix(gosum, "\nexample.com/dep v1.2.3 h1:fn=\n") || !strings.Contains(gosum, "knative.dev/func-go v0.22.0 h1:") {
		t.Errorf("scaffold go.sum is not the template's followed by the function's:\n%s", gosum)
	}
	if to, err := os.Readlink(filepath.Join(build, "f")); err != nil || to != "../.." {
		t.Errorf("f -> %q (%v), want ../..", to, err)
	}
	if _, err := os.Stat(filepath.Join(build, "stale")); !os.IsNotExist(err) {
		t.Errorf("an earlier scaffold's file survived: %v", err)
	}

	// An older function keeps the template's go directive.
	write(t, dir, "go.mod", "module example.com/fn\n\ngo 1.22\n")
	if err := funcbuild.Scaffold(dir, ""); err != nil {
		t.Fatal(err)
	}
	if gomod := read(t, build, "go.mod"); !strings.Contains(gomod, "go 1.25.0\n") || strings.Contains(gomod, "sarama") {
		t.Errorf("http scaffold of a go 1.22 function:\n%s", gomod)
	}
	if err := funcbuild.Scaffold(dir, "grpc"); err == nil {
		t.Error("invoke grpc scaffolded")
	}
}

// Every signature scaffolds into a program that builds read-only from the
// template's go.mod and go.sum alone (a function with no requirements of
// its own), serves func-go's health endpoints and stops cleanly on SIGTERM.
// With -update, the go.sum files are first made again by go mod tidy.
func TestTemplateSums(t *testing.T) {
	fns := map[string]struct{ invoke, src string }{
		"instanced-http":        {"http", "package fn\n\nimport \"net/http\"\n\ntype F struct{}\n\nfunc New() *F { return &F{} }\n\nfunc (*F) Handle(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(\"ok\")) }\n"},
		"static-http":           {"http", "package fn\n\nimport \"net/http\"\n\nfunc Handle(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(\"ok\")) }\n"},
		"instanced-cloudevents": {"cloudevent", "package fn\n\nimport \"context\"\n\ntype F struct{}\n\nfunc New() *F { return &F{} }\n\nfunc (*F) Handle(context.Context) error { return nil }\n"},
		"static-cloudevents":    {"cloudevent", "package fn\n\nimport \"context\"\n\nfunc Handle(context.Context) error { return nil }\n"},
	}
	if *update {
		for _, name := range []string{"instanced-http", "instanced-cloudevents"} {
			fn := fns[name]
			sumFile := map[string]string{"http": "http.sum", "cloudevent": "cloudevents.sum"}[fn.invoke]
			writeTemplateSum(t, fn.invoke, fn.src, filepath.Join("templates", sumFile))
		}
		t.Log("templates/*.sum rewritten; run the test again without -update to check them")
		return
	}
	for name, fn := range fns {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "go.mod", "module example.com/fn\n\ngo 1.26.0\n")
			write(t, dir, "fn.go", fn.src)
			if err := funcbuild.Scaffold(dir, fn.invoke); err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(t.TempDir(), "f")
			if _, err := funcbuild.Build(context.Background(), funcbuild.BuildConfig{Name: name, Dir: dir, Out: bin}); err != nil {
				t.Fatal(err)
			}
			serveAndStop(t, bin)
		})
	}
}

// writeTemplateSum makes the template's go.sum: go mod tidy of the
// scaffold around a function with no requirements, which must leave the
// template's go.mod as it is.
func writeTemplateSum(t *testing.T, invoke, src, out string) {
	t.Helper()
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write(t, dir, "go.mod", "module example.com/fn\n\ngo 1.25.0\n")
	write(t, dir, "fn.go", src)
	// The package still holds the old sums; Scaffold is called through a
	// fresh go.mod only, the go.sum comes from tidy.
	if err := funcbuild.Scaffold(dir, invoke); err != nil {
		t.Fatal(err)
	}
	build := filepath.Join(dir, funcbuild.BuildDir)
	before := requirements(t, build)
	os.Remove(filepath.Join(build, "go.sum"))
	runIn(t, build, append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod"), "go", "mod", "tidy")
	if after := requirements(t, build); after != before {
		t.Fatalf("go mod tidy changed the %s template's requirements; its versions are inconsistent:\n%s\nwere:\n%s", invoke, after, before)
	}
	if err := os.WriteFile(out, []byte(read(t, build, "go.sum")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// serveAndStop runs a built function as its image would, waits for its
// readiness, and stops it with SIGTERM.
func serveAndStop(t *testing.T, bin string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"LISTEN_ADDRESS=" + addr}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 20s (%v); output:\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; output:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20s after SIGTERM; output:\n%s", stderr.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// requirements lists the go directive and the required versions of the
// module in dir, sorted, whatever the go.mod layout.
func requirements(t *testing.T, dir string) string {
	t.Helper()
	out := runIn(t, dir, append(os.Environ(), "GOWORK=off"), "go", "mod", "edit", "-json")
	var m struct {
		Go      string
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	lines := []string{"go " + m.Go}
	for _, r := range m.Require {
		lines = append(lines, r.Path+" "+r.Version)
	}
	sort.Strings(lines[1:])
	return strings.Join(lines, "\n")
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
