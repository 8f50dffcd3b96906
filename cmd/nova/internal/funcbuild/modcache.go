package funcbuild

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
)

// ForgetStale removes m from the module cache at modcache when the cache
// holds other contents under the same version, and reports whether it did.
//
// The go command never fetches a version again once it is cached, and only
// checks it against go.sum when go.sum has a line for it. A version served
// from a local proxy is re-made from a revision every time (deploy-check
// reuses one version string; a failed release is retried at the same one),
// so a stale copy would otherwise go unnoticed into go.sum.
func ForgetStale(modcache string, m Module) (bool, error) {
	escPath, err := module.EscapePath(m.Path)
	if err != nil {
		return false, err
	}
	escVer, err := module.EscapeVersion(m.Version)
	if err != nil {
		return false, err
	}
	dl := filepath.Join(modcache, "cache", "download", escPath, "@v", escVer)
	stale := false
	if b, err := os.ReadFile(dl + ".ziphash"); err == nil && strings.TrimSpace(string(b)) != m.Sum {
		stale = true
	}
	if b, err := os.ReadFile(dl + ".mod"); err == nil && !bytes.Equal(b, m.GoMod) {
		stale = true
	}
	if !stale {
		return false, nil
	}
	var errs []error
	for _, ext := range []string{".zip", ".ziphash", ".mod", ".info"} {
		if err := os.Remove(dl + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, removeReadOnly(filepath.Join(modcache, escPath+"@"+escVer)))
	if err := errors.Join(errs...); err != nil {
		return true, fmt.Errorf("funcbuild: forget stale %s@%s in %s: %w", m.Path, m.Version, modcache, err)
	}
	return true, nil
}

// removeReadOnly removes a tree the go command extracted read-only.
func removeReadOnly(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// Best effort: what stays read-only makes the RemoveAll below fail,
	// and that error is returned.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755) //nolint:gosec // a directory: the go command must list and enter it
		}
		return nil
	})
	return os.RemoveAll(dir)
}
