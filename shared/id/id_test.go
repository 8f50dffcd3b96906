package id_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/nova-social/nova/shared/id"
)

// parsers runs each test against every id type, so the six stay identical.
var parsers = map[string]func(string) (string, error){
	"user":         wrap(id.ParseUserID),
	"post":         wrap(id.ParsePostID),
	"media":        wrap(id.ParseMediaID),
	"conversation": wrap(id.ParseConversationID),
	"message":      wrap(id.ParseMessageID),
	"notification": wrap(id.ParseNotificationID),
	"entity": func(s string) (string, error) {
		if err := id.Check("entity", s); err != nil {
			return "", err
		}
		return s, nil
	},
}

func wrap[T ~string](f func(string) (T, error)) func(string) (string, error) {
	return func(s string) (string, error) {
		v, err := f(s)
		return string(v), err
	}
}

var minters = map[string]func() string{
	"user":         func() string { return id.NewUserID().String() },
	"post":         func() string { return id.NewPostID().String() },
	"media":        func() string { return id.NewMediaID().String() },
	"conversation": func() string { return id.NewConversationID().String() },
	"message":      func() string { return id.NewMessageID().String() },
	"notification": func() string { return id.NewNotificationID().String() },
}

type vector struct {
	line   int
	input  string
	reason string
}

func readVectors(t *testing.T, path string, quoted bool) []vector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v := vector{line: n, input: line}
		if quoted {
			in, reason, ok := strings.Cut(line, "\t")
			if !ok {
				t.Fatalf("%s:%d: want <quoted input>TAB<reason>", path, n)
			}
			s, err := strconv.Unquote(in)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			v.input, v.reason = s, reason
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no vectors", path)
	}
	return out
}

func TestParseValidVectors(t *testing.T) {
	for _, v := range readVectors(t, "testdata/valid.txt", false) {
		for kind, parse := range parsers {
			got, err := parse(v.input)
			if err != nil {
				t.Errorf("valid.txt:%d %s: Parse(%q) = %v", v.line, kind, v.input, err)
				continue
			}
			if got != v.input {
				t.Errorf("valid.txt:%d %s: Parse(%q) = %q, want it unchanged", v.line, kind, v.input, got)
			}
		}
	}
}

func TestParseInvalidVectors(t *testing.T) {
	for _, v := range readVectors(t, "testdata/invalid.txt", true) {
		for kind, parse := range parsers {
			got, err := parse(v.input)
			if err == nil {
				t.Errorf("invalid.txt:%d %s (%s): Parse(%q) = %q, want an error", v.line, kind, v.reason, v.input, got)
				continue
			}
			if got != "" {
				t.Errorf("invalid.txt:%d: a failed parse returned %q, want the zero id", v.line, got)
			}
			if !errors.Is(err, id.ErrInvalid) {
				t.Errorf("invalid.txt:%d: error %v does not match ErrInvalid", v.line, err)
			}
			var pe *id.ParseError
			if !errors.As(err, &pe) || pe.Kind != kind {
				t.Errorf("invalid.txt:%d: error %#v, want a *ParseError of kind %q", v.line, err, kind)
			}
		}
	}
}

func TestNewMintsCanonicalUUIDv7(t *testing.T) {
	for kind, mint := range minters {
		seen := map[string]bool{}
		prev := ""
		for range 1000 {
			s := mint()
			if _, err := parsers[kind](s); err != nil {
				t.Fatalf("%s: minted %q does not parse: %v", kind, s, err)
			}
			u := uuid.MustParse(s)
			if u.Version() != 7 {
				t.Fatalf("%s: minted %q is version %d, want 7", kind, s, u.Version())
			}
			if seen[s] {
				t.Fatalf("%s: minted %q twice", kind, s)
			}
			seen[s] = true
			// Minted in one process, UUIDv7 ids sort in minting order.
			if prev != "" && s <= prev {
				t.Fatalf("%s: %q minted after %q sorts before it", kind, s, prev)
			}
			prev = s
		}
	}
}

func TestJSONDecodingValidates(t *testing.T) {
	var body struct {
		Author id.UserID `json:"author"`
		Post   id.PostID `json:"post"`
	}
	ok := `{"author":"01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a","post":"3f0c6e4b-9a1d-4c2f-b8e7-5d6a7b8c9d0e"}`
	if err := json.Unmarshal([]byte(ok), &body); err != nil {
		t.Fatal(err)
	}
	if body.Author != "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a" || body.Post.IsZero() {
		t.Fatalf("decoded %+v", body)
	}
	bad := `{"author":"01932C07-A5D4-7C2E-8B3A-2F6D1E9C4B7A"}`
	err := json.Unmarshal([]byte(bad), &body)
	if !errors.Is(err, id.ErrInvalid) {
		t.Fatalf("decoding an upper-case id: %v, want ErrInvalid", err)
	}
	out, err := json.Marshal(map[string]id.UserID{"u": "01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"})
	if err != nil || string(out) != `{"u":"01932c07-a5d4-7c2e-8b3a-2f6d1e9c4b7a"}` {
		t.Fatalf("marshal = %s, %v", out, err)
	}
}

func TestParseErrorTruncatesInput(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	_, err := id.ParseUserID(long)
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error for a 10 kB input is %d bytes", len(err.Error()))
	}
}

func BenchmarkParse(b *testing.B) {
	s := id.NewPostID().String()
	for b.Loop() {
		if _, err := id.ParsePostID(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGoogleUUID(b *testing.B) { // baseline: the library's lenient parser
	s := id.NewPostID().String()
	for b.Loop() {
		if _, err := uuid.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		_ = id.NewPostID()
	}
}
