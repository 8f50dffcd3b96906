package validation_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/manifests/validation"
)

// eventingDir is the repository's eventing/, what kubectl apply -k installs.
const eventingDir = "../../../../../eventing"

func newChecker(t *testing.T) *validation.Checker {
	t.Helper()
	c, err := validation.New(validation.Config{StrimziDir: "strimzi"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func check(t *testing.T, c *validation.Checker, dir string) validation.Report {
	t.Helper()
	rep, err := c.Check(context.Background(), dir)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return rep
}

// TestRepositoryEventing checks eventing/ and every overlay as kubectl apply
// -k would send them: a cluster must accept every object.
func TestRepositoryEventing(t *testing.T) {
	c := newChecker(t)
	dirs, err := validation.Dirs(eventingDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatalf("no kustomization under %s", eventingDir)
	}
	for _, dir := range dirs {
		rel, err := filepath.Rel(eventingDir, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(rel, func(t *testing.T) {
			rep := check(t, c, dir)
			if rep.Objects == 0 {
				t.Fatalf("%s built to nothing", dir)
			}
			for _, p := range rep.Problems {
				t.Errorf("%s", p)
			}
		})
	}
}
