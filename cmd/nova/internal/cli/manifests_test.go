package cli_test

import (
	"strings"
	"testing"
)

const (
	manifestTestdata = "../manifests/validation/testdata"
	strimziDir       = "../manifests/validation/strimzi"
)

// nova manifests prints each problem with its file, object and field, and
// fails; a valid kustomization passes.
func TestManifests(t *testing.T) {
	code, out, errs := run(t, "", "manifests", "--eventing", manifestTestdata+"/valid", "--strimzi", strimziDir)
	if code != 0 || !strings.Contains(out, "testdata/valid: 20 objects, 0 problems") {
		t.Errorf("valid: exit %d\n%s%s", code, out, errs)
	}

	code, out, errs = run(t, "", "manifests", "--eventing", manifestTestdata+"/broken/kafkatopic-partitions-six", "--strimzi", strimziDir)
	want := `kafkatopic-partitions-six/topic.yaml: kafka.strimzi.io/v1 KafkaTopic content-events: spec.partitions: Invalid value: "six": must be of type integer`
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(errs, "problems found: 1 in 1 kustomization(s)") {
		t.Errorf("broken: exit %d\n%s%s", code, out, errs)
	}

	// The base and each overlay.
	code, out, errs = run(t, "", "manifests", "--eventing", manifestTestdata+"/tree", "--strimzi", strimziDir)
	for _, w := range []string{"testdata/tree: 2 objects, 0 problems", "overlays/broker: 2 objects, 1 problems", "overlays/with-base: 0 objects, 1 problems"} {
		if !strings.Contains(out, w) {
			t.Errorf("tree: no %q in\n%s", w, out)
		}
	}
	if code != 1 {
		t.Errorf("tree: exit %d\n%s", code, errs)
	}
}
