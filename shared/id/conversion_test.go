package id_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The package documentation promises that code outside tests makes ids only
// through Parse and New; a plain conversion such as id.UserID(s) would skip
// the validation. This holds the tree to it.
func TestNoConversionsOutsideTests(t *testing.T) {
	conversion := regexp.MustCompile(`\bid\.(UserID|PostID|MediaID|ConversationID|MessageID|NotificationID)\(`)
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if conversion.MatchString(line) {
				t.Errorf("%s:%d converts to an id type instead of parsing: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
