package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/manifests/validation"
	"github.com/nova-social/nova/cmd/nova/internal/system"
)

// errProblems says the check ran and found problems; they are printed.
var errProblems = errors.New("problems found")

func manifestsCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("manifests", "[flags]", st)
	root := fs.String("root", "", "repository root (default: found from the working directory) [NOVA_ROOT]")
	eventing := fs.String("eventing", "", "kustomization to check, with each of its overlays/*/ (default <root>/eventing) [NOVA_EVENTING]")
	strimzi := fs.String("strimzi", "", "folder of the Strimzi validator and its node_modules (default <root>/cmd/nova/internal/manifests/validation/strimzi)")
	node := fs.String("node", "node", "Node.js, which runs the Strimzi validator")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *root == "" && (*eventing == "" || *strimzi == "") {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if *root, err = system.FindRoot(wd); err != nil {
			return fmt.Errorf("repository root not found (pass --root, or --eventing and --strimzi): %w", err)
		}
	}
	if *eventing == "" {
		*eventing = filepath.Join(*root, "eventing")
	}
	if *strimzi == "" {
		*strimzi = filepath.Join(*root, "cmd", "nova", "internal", "manifests", "validation", "strimzi")
	}
	dirs, err := validation.Dirs(relToWD(*eventing))
	if err != nil {
		return err
	}
	checker, err := validation.New(validation.Config{StrimziDir: *strimzi, Node: *node})
	if err != nil {
		return err
	}
	total := 0
	for _, d := range dirs {
		rep, err := checker.Check(ctx, d)
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		for _, p := range rep.Problems {
			fmt.Fprintln(st.Out, p)
		}
		fmt.Fprintf(st.Out, "%s: %d objects, %d problems\n", d, rep.Objects, len(rep.Problems))
		total += len(rep.Problems)
	}
	if total > 0 {
		return fmt.Errorf("%w: %d in %d kustomization(s)", errProblems, total, len(dirs))
	}
	return nil
}

// relToWD shortens dir to a path relative to the working directory, so
// problems name files as a person would type them.
func relToWD(dir string) string {
	wd, err := os.Getwd()
	if err != nil {
		return dir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	if rel, err := filepath.Rel(wd, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return rel
	}
	return dir
}
