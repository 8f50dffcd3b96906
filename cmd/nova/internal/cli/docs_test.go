package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/testrig"
)

// exampleMarker, on the line before a ```sh block of the README or a page
// of docs/, makes the block one TestDocExamples runs as printed.
const exampleMarker = "<!-- example -->"

// docExamples returns the marked blocks of a Markdown file, in order, with
// the line each starts on.
func docExamples(t *testing.T, path string) (blocks []string, lines []int) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	var (
		n              int
		marked, inside bool
		b              strings.Builder
	)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case inside && strings.TrimSpace(line) == "```":
			blocks = append(blocks, b.String())
			b.Reset()
			inside = false
		case inside:
			b.WriteString(line + "\n")
		case marked && strings.HasPrefix(line, "```sh"):
			inside, marked = true, false
			lines = append(lines, n+1)
		case marked:
			t.Fatalf("%s:%d: %s is not followed by a ```sh block", path, n, exampleMarker)
		case strings.TrimSpace(line) == exampleMarker:
			marked = true
		}
	}
	if inside || marked {
		t.Fatalf("%s: a marked example does not end", path)
	}
	return blocks, lines
}

// TestDocExamples runs the examples of the README and docs/ exactly as they
// are printed, against a fresh nova run, in a shell with nothing but what a
// reader has: the nova command on PATH, curl, kcat, node. A page's blocks
// run in order in one shell (a later block uses what an earlier one set);
// each must succeed, and print what the page says it prints.
func TestDocExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole nova run and the documents' commands (about 30 s)")
	}
	for _, tool := range []string{"bash", "curl", "kcat", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the documents' examples need %s on PATH: %v (.ci/run installs kcat; apt-get install curl nodejs)", tool, err)
		}
	}
	repo, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	clearToolVars(t)
	// Sign-up budgets of the test's own: they are kept in the shared Redis
	// per client address, and every test signs up from 127.0.0.1.
	t.Setenv("RATE_LIMIT_NAMESPACE", "docs-"+testrig.ID())
	// The reader's PATH with the nova command on it.
	bin := t.TempDir()
	if err := os.Symlink(testrig.NovaBinary(t), filepath.Join(bin, "nova")); err != nil {
		t.Fatal(err)
	}

	for _, page := range []struct {
		path string
		// run are the flags of the nova run the page's examples need.
		run []string
		// want are lines the page says its examples print, in order.
		want []string
		// check, when set, judges the whole output further.
		check func(out string) error
	}{
		{"docs/walkthrough.md", nil, []string{"Hello, Nova! #firstpost", "hello", "message Welcome to Nova, Ada!"}, nil},
		// The README's runs: without sender checks for the events posted by
		// hand (two 200s), without Kafka logins for kcat, which cannot log
		// in to the embedded Kafka. kcat's records and content-sync's
		// answers to them share their key's partition.
		{"README.md", []string{"--event-auth-off", "--kafka-no-auth"},
			[]string{"HTTP/1.1 200", "HTTP/1.1 200", "ce_type=com.nova.content.post.created"}, onePartitionPerKey},
	} {
		t.Run(page.path, func(t *testing.T) {
			r := startRun(t, testrig.PostgresURL(t), page.run...)
			defer r.stop(t)
			// The reader is inside the run's checkout, where nova env finds it.
			env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "NOVA_ROOT="+r.root)
			blocks, lines := docExamples(t, filepath.Join(repo, page.path))
			if len(blocks) == 0 {
				t.Fatalf("%s has no %s blocks", page.path, exampleMarker)
			}
			var script strings.Builder
			script.WriteString("set -euo pipefail\n")
			if os.Getenv("DOCS_DEBUG") != "" {
				script.WriteString("set -x\n")
			}
			for i, b := range blocks {
				// Each block says where it starts, so a failure names it.
				script.WriteString("echo '>>> " + page.path + ":" + strconv.Itoa(lines[i]) + "' >&2\n" + b)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
			cmd.Dir, cmd.Env = r.root, env
			var out, errs bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errs
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s's examples failed: %v\nstdout:\n%s\nstderr:\n%s", page.path, err, out.String(), errs.String())
			}
			rest := out.String()
			for _, w := range page.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%s's examples did not print %q (in order)\nstdout:\n%s\nstderr:\n%s", page.path, w, out.String(), errs.String())
				}
				rest = rest[i+len(w):]
			}
			if page.check != nil {
				if err := page.check(out.String()); err != nil {
					t.Errorf("%s's examples: %v\nstdout:\n%s", page.path, err, out.String())
				}
			}
			t.Logf("%s: %d examples ran\n%s", page.path, len(blocks), out.String())
		})
	}
}

// onePartitionPerKey checks kcat's "p%p o%o key=%k …" lines: every record
// of a key is on one partition.
func onePartitionPerKey(out string) error {
	seen := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(f[0], "p") || !strings.HasPrefix(f[2], "key=") {
			continue
		}
		if p, ok := seen[f[2]]; ok && p != f[0] {
			return fmt.Errorf("records of %s on partitions %s and %s", f[2], p, f[0])
		}
		seen[f[2]] = f[0]
	}
	if len(seen) == 0 {
		return errors.New("kcat printed no records")
	}
	return nil
}
