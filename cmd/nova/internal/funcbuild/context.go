package funcbuild

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrLink marks a symbolic link a build context may not hold: an absolute
// one, or one leading out of the function directory. func refuses both,
// since the builder sees only the context.
var ErrLink = errors.New("link leaves the build context")

// Context copies the function directory src into dst (created, and empty
// or missing) as func sends it to a builder: without what .funcignore and
// DefaultIgnored leave out, with files' permission bits, and with symbolic
// links kept as links when they point inside src.
func Context(src, dst string) error {
	src, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("funcbuild: %w", err)
	}
	patterns, err := ParseIgnore(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("funcbuild: %w", err)
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if IsIgnored(rel, patterns) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			return os.MkdirAll(target, mode.Perm()|0o700)
		case mode&fs.ModeSymlink != 0:
			return copyLink(src, p, rel, target)
		case mode.IsRegular():
			return copyFile(p, target, mode.Perm())
		default:
			return fmt.Errorf("%s is a %s, which a build context cannot hold", rel, mode.Type())
		}
	})
	if err != nil {
		return fmt.Errorf("funcbuild: build context of %s: %w", src, err)
	}
	return nil
}

func copyLink(root, p, rel, target string) error {
	to, err := os.Readlink(p)
	if err != nil {
		return err
	}
	if filepath.IsAbs(to) {
		return fmt.Errorf("%s -> %s: %w (absolute)", rel, to, ErrLink)
	}
	resolved := filepath.Join(filepath.Dir(p), to)
	if r, err := filepath.Rel(root, resolved); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s -> %s: %w", rel, to, ErrLink)
	}
	return os.Symlink(to, target)
}

func copyFile(from, to string, perm fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
