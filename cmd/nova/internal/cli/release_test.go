package cli_test

import (
	"strings"
	"testing"
)

func TestReleaseCommandsNeedAVersion(t *testing.T) {
	for _, cmd := range []string{"release", "pin"} {
		if code, _, errs := run(t, "", cmd); code != 2 || !strings.Contains(errs, "--version is required") {
			t.Errorf("nova %s without --version: %d %q", cmd, code, errs)
		}
	}
}

// deploy-check names a function it does not know before it builds
// anything (the list comes from this repository's func.yaml files).
func TestDeployCheckUnknownFunction(t *testing.T) {
	code, _, errs := run(t, "", "deploy-check", "--root", "../../../..", "--only", "nope")
	if code != 1 || !strings.Contains(errs, `no function "nope"`) || !strings.Contains(errs, "nova-api") {
		t.Errorf("nova deploy-check --only nope: %d %q", code, errs)
	}
}
