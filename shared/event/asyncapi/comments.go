package asyncapi

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	packageLine = regexp.MustCompile(`^package\s+([\w.]+)\s*;`)
	messageLine = regexp.MustCompile(`^message\s+(\w+)\s*\{`)
	enumLine    = regexp.MustCompile(`^enum\s+(\w+)\s*\{`)
	fieldLine   = regexp.MustCompile(`^(?:optional\s+|repeated\s+)?[\w.]+\s+(\w+)\s*=\s*\d+`)
)

// ReadComments reads the leading comments of the messages and their fields
// from the .proto files in dir. The generated Go code drops comments, and
// the schema's comments are the documents' descriptions.
func ReadComments(dir string) (Comments, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.proto"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("asyncapi: no .proto files in %s", dir)
	}
	out := Comments{}
	for _, f := range files {
		if err := readFile(f, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readFile(path string, out Comments) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("asyncapi: %w", err)
	}
	defer f.Close()
	var (
		pkg     string
		pending []string
		scope   []string // enclosing message names; "" for an enum
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if c, ok := strings.CutPrefix(line, "//"); ok {
			pending = append(pending, strings.TrimSpace(c))
			continue
		}
		comment := strings.Join(pending, " ")
		pending = nil
		if m := packageLine.FindStringSubmatch(line); m != nil {
			pkg = m[1]
			continue
		}
		if m := messageLine.FindStringSubmatch(line); m != nil {
			scope = append(scope, m[1])
			if comment != "" {
				out[pkg+"."+strings.Join(scope, ".")] = comment
			}
			continue
		}
		if enumLine.MatchString(line) {
			scope = append(scope, "")
			continue
		}
		if strings.HasPrefix(line, "}") && len(scope) > 0 {
			scope = scope[:len(scope)-1]
			continue
		}
		if m := fieldLine.FindStringSubmatch(line); m != nil && len(scope) > 0 && scope[len(scope)-1] != "" && comment != "" {
			out[pkg+"."+strings.Join(scope, ".")+"."+m[1]] = comment
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("asyncapi: %s: %w", path, err)
	}
	return nil
}
