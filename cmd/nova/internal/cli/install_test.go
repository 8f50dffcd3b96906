package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/system"
)

// make install puts nova where go install does (GOBIN here), says where,
// and says when that folder is not on PATH; make help lists it.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole nova command")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is not installed (apt-get install make): %v", err)
	}
	root, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	gobin := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "-C", root, "install")
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "PATH=/usr/bin:/bin:"+filepath.Dir(goTool(t)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	bin := filepath.Join(gobin, "nova")
	if !strings.Contains(string(out), "installed nova as "+bin) || !strings.Contains(string(out), gobin+" is not on PATH") {
		t.Errorf("make install says:\n%s", out)
	}
	help, err := exec.Command(bin, "help").Output()
	if err != nil || !strings.Contains(string(help), "nova env") {
		t.Errorf("the installed nova: %v\n%s", err, help)
	}
	list, err := exec.Command("make", "--no-print-directory", "-C", root, "help").Output()
	if err != nil || !strings.Contains(string(list), "make install") {
		t.Errorf("make help: %v\n%s", err, list)
	}
}

// goTool is the go command running this test's build.
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	return p
}
