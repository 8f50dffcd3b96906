package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
)

// Config says what to release.
type Config struct {
	// Root is the repository's work tree.
	Root string
	// Version is the release, a canonical semver tag (v0.3.0).
	Version string
	// Env is the environment of git and the go command. Default: the
	// process's.
	Env []string
	// Log receives progress.
	Log io.Writer
}

// Validate reports a release that cannot be cut.
func (c Config) Validate() error {
	if c.Root == "" {
		return errors.New("release: no repository root")
	}
	if err := module.Check(RootModule, c.Version); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if semver.Canonical(c.Version) != c.Version {
		return fmt.Errorf("release: version %s is not canonical semver (vX.Y.Z)", c.Version)
	}
	return nil
}

// Result is what Release made.
type Result struct {
	// Module is the root module at the release, with the hashes the
	// functions' go.sum records and the Go module proxy will serve.
	Module funcbuild.Module
	// Start is the commit released; Tagged the commit the tag points at
	// (the functions pinned); After the commit HEAD is left at (the
	// functions on the local root module again).
	Start, Tagged, After string
	// Branch is the branch HEAD is on ("" when detached).
	Branch string
}

// Push is the command that publishes the release.
func (r Result) Push() string {
	if r.Branch == "" {
		return "git push origin " + r.Module.Version
	}
	return "git push origin " + r.Branch + " " + r.Module.Version
}

// Release cuts cfg.Version of the root module from HEAD of a clean work
// tree:
//
//  1. a local module proxy serves the root module at the version, made
//     from HEAD as the Go module proxy will make it from the pushed tag;
//  2. every function is pinned to it (its go.mod requires it, its go.sum
//     holds its hash, no local replace), and cmd/nova follows;
//  3. that is committed and tagged (an annotated tag);
//  4. the functions are unpinned again and that is committed.
//
// Nothing is pushed. On failure the work tree, HEAD and the tags are left
// as they were found, and the error says why.
func Release(ctx context.Context, cfg Config) (res Result, err error) {
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	log := logTo(cfg.Log)
	env := environ(cfg.Env)
	g := gitIn{ctx: ctx, dir: cfg.Root, env: env}
	if out, err := g.run("status", "--porcelain"); err != nil {
		return res, fmt.Errorf("release: %w", err)
	} else if out != "" {
		return res, fmt.Errorf("release: the work tree is not clean; commit or stash first:\n%s", out)
	}
	if _, err := g.run("rev-parse", "--quiet", "--verify", "refs/tags/"+cfg.Version); err == nil {
		return res, fmt.Errorf("release: tag %s already exists", cfg.Version)
	}
	if res.Start, err = g.run("rev-parse", "HEAD"); err != nil {
		return res, fmt.Errorf("release: %w", err)
	}
	res.Branch, _ = g.run("symbolic-ref", "--quiet", "--short", "HEAD")
	tree, err := Modules(cfg.Root)
	if err != nil {
		return res, err
	}

	tagged := false
	defer func() {
		if err == nil {
			return
		}
		// Back to where we started: the tree was clean, so nothing of
		// the user's is lost.
		var undo []error
		if tagged {
			if _, e := g.run("tag", "--delete", cfg.Version); e != nil {
				undo = append(undo, e)
			}
		}
		if _, e := g.run("reset", "--quiet", "--hard", res.Start); e != nil {
			undo = append(undo, e)
		}
		if _, e := g.run("clean", "--quiet", "--force", "--", ":(glob)**/go.sum"); e != nil {
			undo = append(undo, e)
		}
		if e := errors.Join(undo...); e != nil {
			err = fmt.Errorf("%w\nand restoring %s failed too: %w", err, res.Start, e)
		} else {
			err = fmt.Errorf("%w\n(the tree is back at %.12s, as it was)", err, res.Start)
		}
	}()

	proxy, err := os.MkdirTemp("", "nova-release-proxy-*")
	if err != nil {
		return res, fmt.Errorf("release: %w", err)
	}
	defer os.RemoveAll(proxy)
	fmt.Fprintf(log, "==> %s %s from %.12s (module proxy in %s)\n", RootModule, cfg.Version, res.Start, proxy)
	res.Module, err = funcbuild.Proxy(ctx, funcbuild.ProxyConfig{Dir: proxy, Repo: cfg.Root, Revision: res.Start, Path: RootModule, Version: cfg.Version})
	if err != nil {
		return res, fmt.Errorf("release: %w", err)
	}
	fmt.Fprintf(log, "    %s\n", res.Module.Sum)

	if err := PinAll(ctx, PinConfig{Tree: tree, Module: res.Module, ProxyDir: proxy, Env: env, Log: log}); err != nil {
		return res, fmt.Errorf("release: pin: %w", err)
	}
	msg := fmt.Sprintf("release %s: functions require %s %s", cfg.Version, RootModule, cfg.Version)
	if res.Tagged, err = g.commit(msg); err != nil {
		return res, fmt.Errorf("release: %w", err)
	}
	if _, err := g.run("tag", "--annotate", "--message", cfg.Version, cfg.Version, res.Tagged); err != nil {
		return res, fmt.Errorf("release: %w", err)
	}
	tagged = true
	fmt.Fprintf(log, "==> tagged %s at %.12s\n", cfg.Version, res.Tagged)

	if err := UnpinAll(ctx, tree, env, log); err != nil {
		return res, fmt.Errorf("release: unpin: %w", err)
	}
	if res.After, err = g.commit(fmt.Sprintf("after %s: functions use the local root module again", cfg.Version)); err != nil {
		return res, fmt.Errorf("release: %w", err)
	}
	return res, nil
}

// gitIn runs git in one work tree.
type gitIn struct {
	ctx context.Context
	dir string
	env []string
}

func (g gitIn) run(args ...string) (string, error) {
	out, err := g.raw(args...)
	return strings.TrimSpace(out), err
}

// raw is run without trimming: git status lines start with a space.
func (g gitIn) raw(args ...string) (string, error) {
	cmd := exec.CommandContext(g.ctx, "git", args...)
	cmd.Dir = g.dir
	cmd.Env = g.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// commit commits every change to the tracked modules' go.mod and go.sum
// (and go.sum files that are new) and returns the commit.
func (g gitIn) commit(msg string) (string, error) {
	if _, err := g.run("add", "--all", "--", ":(glob)**/go.mod", ":(glob)**/go.sum"); err != nil {
		return "", err
	}
	out, err := g.raw("status", "--porcelain")
	if err != nil {
		return "", err
	}
	// Anything else changed means something besides the modules moved:
	// that is not committed under a release message.
	if other := unexpected(out); other != "" {
		return "", fmt.Errorf("files other than go.mod and go.sum changed:\n%s", other)
	}
	if _, err := g.run("commit", "--quiet", "--message", msg); err != nil {
		return "", err
	}
	return g.run("rev-parse", "HEAD")
}

// unexpected lists the git status lines that are not staged go.mod or go.sum.
func unexpected(status string) string {
	var out []string
	for _, line := range strings.Split(status, "\n") {
		if len(line) < 4 {
			continue
		}
		name := filepath.Base(strings.TrimSpace(line[3:]))
		if (line[0] == 'M' || line[0] == 'A') && line[1] == ' ' && (name == "go.mod" || name == "go.sum") {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
