package funcbuild

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// IgnoreFile lists what a function keeps out of its build context.
const IgnoreFile = ".funcignore"

// DefaultIgnored are left out of every build context whatever .funcignore
// says, matched by name at any depth: func never sends its own data folder,
// the ignore files or the git metadata.
var DefaultIgnored = []string{".git", ".func", ".funcignore", ".gitignore"}

// ParseIgnore reads dir/.funcignore: one pattern a line, blank lines and
// lines starting with # skipped. A missing file is no patterns.
func ParseIgnore(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, IgnoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("funcbuild: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("funcbuild: read %s: %w", f.Name(), err)
	}
	return out, nil
}

// IsIgnored reports whether rel (slash-separated, relative to the function
// root) is left out of the build context by patterns or DefaultIgnored.
// func's rules, which are not .gitignore's:
//
//   - "/foo" is anchored at the root: that path and everything below it;
//   - "foo" or a glob matches, with path.Match, either the name or the whole
//     relative path, so it applies at any depth;
//   - a trailing slash is dropped; there is no "**" and no "!" negation.
//
// A path is ignored when it or any folder above it matches, as a walk that
// skips ignored folders would have it.
func IsIgnored(rel string, patterns []string) bool {
	rel = strings.Trim(filepath.ToSlash(rel), "/")
	if rel == "" || rel == "." {
		return false
	}
	for p := rel; ; {
		if ignoredEntry(p, patterns) {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// ignoredEntry matches one path without looking at its parents.
func ignoredEntry(rel string, patterns []string) bool {
	base := path.Base(rel)
	for _, d := range DefaultIgnored {
		if base == d {
			return true
		}
	}
	for _, p := range patterns {
		p = strings.TrimSuffix(p, "/")
		if p == "" {
			continue
		}
		if anchored, ok := strings.CutPrefix(p, "/"); ok {
			if m, _ := path.Match(anchored, rel); m {
				return true
			}
			continue
		}
		if m, _ := path.Match(p, base); m {
			return true
		}
		if m, _ := path.Match(p, rel); m {
			return true
		}
	}
	return false
}
