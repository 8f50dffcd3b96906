package funcbuild_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
)

// sysFunction is a function that needs a newer golang.org/x/sys than the
// scaffold template requires, in a folder under a go.work: the two ways a
// Nova function trips the builders.
func sysFunction(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, "go.work", "go 1.26.0\n\nuse ./fn\n")
	dir := filepath.Join(root, "fn")
	write(t, dir, "go.mod", "module example.com/fn\n\ngo 1.26.0\n\nrequire golang.org/x/sys v0.50.0\n")
	write(t, dir, "go.sum", "golang.org/x/sys v0.50.0 h1:dkKZEFTEKaLr1sjhs0WiKqoi8Jj5nHbS3Njmx1UoMJs=\n"+
		"golang.org/x/sys v0.50.0/go.mod h1:hNLxWAXmnKAxqDtdwIYC4bM9oQPEecfsnNMuSxOs3og=\n")
	// unix.ENOTSUP is in every x/sys; the build only has to need the module.
	write(t, dir, "fn.go", "package fn\n\nimport (\n\t\"net/http\"\n\n\t\"golang.org/x/sys/unix\"\n)\n\n"+
		"type F struct{}\n\nfunc New() *F { return &F{} }\n\nfunc (*F) Handle(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(unix.ENOTSUP.Error())) }\n")
	if err := funcbuild.Scaffold(dir, "http"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The builder's environment is its own plus build.buildEnvs: settings of
// this machine's environment do not reach it, buildEnvs do, and a failure
// names the function and quotes the go command.
func TestBuildEnvironmentIsTheBuilders(t *testing.T) {
	ctx := context.Background()
	dir := sysFunction(t)
	bin := filepath.Join(t.TempDir(), "f")
	host := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")

	_, err := funcbuild.Build(ctx, funcbuild.BuildConfig{Name: "sys", Dir: dir, Out: bin, Env: host})
	// Paketo's go mod vendor is the first to trip on it.
	if err == nil || !strings.Contains(err.Error(), "function sys: go mod vendor") || !strings.Contains(err.Error(), "workspace mode") {
		t.Fatalf("under a go.work, without buildEnvs: %v; want the go command's workspace complaint, naming the function", err)
	}
	_, err = funcbuild.Build(ctx, funcbuild.BuildConfig{Name: "sys", Dir: dir, Out: bin, Env: host, BuildEnv: []string{"GOWORK=off"}})
	if err == nil || !strings.Contains(err.Error(), "updates to go.mod needed") {
		t.Fatalf("a newer x/sys than the template's, read-only: %v; want the go command's updates to go.mod needed", err)
	}
	built, err := funcbuild.Build(ctx, funcbuild.BuildConfig{Name: "sys", Dir: dir, Out: bin, BuildEnv: []string{"GOWORK=off", "GOFLAGS=-mod=mod"}})
	if err != nil {
		t.Fatal(err)
	}
	if built.Size == 0 || built.Binary != bin || built.Duration <= 0 {
		t.Errorf("built %+v", built)
	}
	if _, err := os.Stat(filepath.Join(dir, "vendor")); !os.IsNotExist(err) {
		t.Errorf("go mod vendor left a vendor folder in the function (%v)", err)
	}
	serveAndStop(t, bin)
}

func TestBuildRefusesAnUntidyFunction(t *testing.T) {
	dir := sysFunction(t)
	// go.sum without x/sys: Paketo's go mod vendor is read-only.
	write(t, dir, "go.sum", "")
	_, err := funcbuild.Build(context.Background(), funcbuild.BuildConfig{Name: "sys", Dir: dir, Out: filepath.Join(t.TempDir(), "f"),
		BuildEnv: []string{"GOWORK=off"}})
	if err == nil || !strings.Contains(err.Error(), "function sys: go mod vendor") || !strings.Contains(err.Error(), "golang.org/x/sys") {
		t.Fatalf("got %v; want go mod vendor's complaint about golang.org/x/sys", err)
	}
}
