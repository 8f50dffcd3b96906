package funcbuild

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// ProxyConfig says which module version Proxy serves, and from where.
type ProxyConfig struct {
	// Dir is the proxy directory (GOPROXY=file://Dir). Created if missing;
	// other modules and versions already there are kept.
	Dir string
	// Repo is a git repository (a work tree, a linked worktree or a bare
	// repository).
	Repo string
	// Revision is what the version is made from: a commit, tag or branch.
	// Default HEAD.
	Revision string
	// Subdir is the module's folder in the repository; "" for the root.
	Subdir string
	// Path and Version name the module version, as a release tag would:
	// Version must be canonical semver (v1.2.3, v0.0.0-rc.1).
	Path, Version string
}

// Validate reports a configuration Proxy cannot serve.
func (c ProxyConfig) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("no proxy directory"))
	}
	if c.Repo == "" {
		errs = append(errs, errors.New("no git repository"))
	}
	if err := module.Check(c.Path, c.Version); err != nil {
		errs = append(errs, err)
	} else if semver.Canonical(c.Version) != c.Version {
		errs = append(errs, fmt.Errorf("version %s is not canonical (%s)", c.Version, semver.Canonical(c.Version)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("funcbuild: proxy: %w", err)
	}
	return nil
}

// Module is a module version as a proxy serves it and go.sum records it.
type Module struct {
	Path, Version string
	// Commit is the git commit the version was made from.
	Commit string
	// Time is the commit time, the version's time in its .info.
	Time time.Time
	// Sum is the h1: hash of the module zip and ModSum that of its go.mod:
	// the two go.sum lines of the version.
	Sum, ModSum string
	// GoMod is the module's go.mod file.
	GoMod []byte
}

// GoSumLines are the lines go.sum holds for m.
func (m Module) GoSumLines() []string {
	return []string{
		m.Path + " " + m.Version + " " + m.Sum,
		m.Path + " " + m.Version + "/go.mod " + m.ModSum,
	}
}

// Proxy writes the module version cfg names into the file-system module
// proxy cfg.Dir: <escaped path>/@v/ with list, <version>.info, .mod and
// .zip. The zip is made by golang.org/x/mod/zip.CreateFromVCS from the git
// revision, as the go command makes it from the repository, so its hash is
// the one proxy.golang.org and sum.golang.org will compute once the
// revision is pushed and tagged Version: files outside git, nested modules
// and vendor folders are left out, export-ignore is honoured.
func Proxy(ctx context.Context, cfg ProxyConfig) (Module, error) {
	if cfg.Revision == "" {
		cfg.Revision = "HEAD"
	}
	if err := cfg.Validate(); err != nil {
		return Module{}, err
	}
	fail := func(err error) (Module, error) {
		return Module{}, fmt.Errorf("funcbuild: proxy %s@%s from %s: %w", cfg.Path, cfg.Version, cfg.Revision, err)
	}
	repo, err := filepath.Abs(cfg.Repo)
	if err != nil {
		return fail(err)
	}
	out, err := git(ctx, repo, "rev-parse", "--verify", "--end-of-options", cfg.Revision+"^{commit}")
	if err != nil {
		return fail(err)
	}
	m := Module{Path: cfg.Path, Version: cfg.Version, Commit: out}
	if out, err = git(ctx, repo, "show", "-s", "--format=%cI", m.Commit); err != nil {
		return fail(err)
	}
	if m.Time, err = time.Parse(time.RFC3339, out); err != nil {
		return fail(fmt.Errorf("commit time %q: %w", out, err))
	}

	escPath, err := module.EscapePath(m.Path)
	if err != nil {
		return fail(err)
	}
	escVer, err := module.EscapeVersion(m.Version)
	if err != nil {
		return fail(err)
	}
	vdir := filepath.Join(cfg.Dir, escPath, "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return fail(err)
	}
	zipPath := filepath.Join(vdir, escVer+".zip")
	if err := vcsZip(ctx, repo, cfg.Subdir, m, zipPath); err != nil {
		return fail(err)
	}
	if m.GoMod, err = zipGoMod(zipPath, m); err != nil {
		return fail(err)
	}
	if m.Sum, err = dirhash.HashZip(zipPath, dirhash.Hash1); err != nil {
		return fail(err)
	}
	if m.ModSum, err = dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(m.GoMod)), nil
	}); err != nil {
		return fail(err)
	}
	info, _ := json.Marshal(struct{ Version, Time string }{m.Version, m.Time.UTC().Format(time.RFC3339)})
	if err := writeFile(filepath.Join(vdir, escVer+".info"), info); err != nil {
		return fail(err)
	}
	if err := writeFile(filepath.Join(vdir, escVer+".mod"), m.GoMod); err != nil {
		return fail(err)
	}
	if err := addToList(filepath.Join(vdir, "list"), m.Version); err != nil {
		return fail(err)
	}
	return m, nil
}

// vcsZip writes the module zip of m, made from commit m.Commit of repo.
// CreateFromVCS wants a repository whose git directory is <root>/.git, which
// a linked worktree or a bare repository is not; a shared clone (no copy of
// the objects, no checkout) of any of them is.
func vcsZip(ctx context.Context, repo, subdir string, m Module, zipPath string) error {
	tmp, err := os.MkdirTemp("", "funcbuild-vcs-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	clone := filepath.Join(tmp, "repo")
	if _, err := git(ctx, tmp, "clone", "--quiet", "--shared", "--no-checkout", "--", repo, clone); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(zipPath), ".zip-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := modzip.CreateFromVCS(f, module.Version{Path: m.Path, Version: m.Version}, clone, m.Commit, subdir); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), zipPath)
}

// zipGoMod reads the module's go.mod out of its zip.
func zipGoMod(zipPath string, m Module) ([]byte, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	name := m.Path + "@" + m.Version + "/go.mod"
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		r, err := f.Open()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	return nil, fmt.Errorf("the module has no go.mod at that revision")
}

// addToList adds version to a proxy's list file.
func addToList(path, version string) error {
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	versions := strings.Fields(string(raw))
	if !slices.Contains(versions, version) {
		versions = append(versions, version)
	}
	semver.Sort(versions)
	return writeFile(path, []byte(strings.Join(versions, "\n")+"\n"))
}

// writeFile replaces path whole, so a go command reading the proxy never
// sees half a file.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil { //nolint:gosec // the go command reads it as any module download
		return err
	}
	return os.Rename(f.Name(), path)
}

// git runs git in dir and returns its trimmed standard output; a failure
// quotes git's standard error.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}
