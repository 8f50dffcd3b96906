// Package instance is how a running `nova run` tells the other nova
// commands where it is: a file of shell variables (KAFKA_BROKERS,
// DATABASE_URL, …) in its data folder, <root>/.nova/env, written once the
// system is up, readable by its owner only, and removed when it stops. The
// pid of the run is in the file, so a file left behind by a run that
// crashed is recognised as stale rather than trusted.
package instance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The variables the file holds. Kafka's login, when there is one, is under
// the names kafka.SecurityFromEnv reads (KAFKA_TLS, KAFKA_SASL_*, …).
const (
	PID          = "NOVA_RUN_PID"
	KafkaBrokers = "KAFKA_BROKERS"
	DatabaseURL  = "DATABASE_URL"
	RedisURL     = "REDIS_URL"
	API          = "NOVA_API"
	Realtime     = "NOVA_REALTIME_GATEWAY_URL"
	MailDir      = "NOVA_MAIL_DIR"
	MetricsURL   = "NOVA_METRICS_URL"
	// ConsoleURL is the run's web console, when it serves one.
	ConsoleURL = "NOVA_CONSOLE_URL"
	// FunctionURLs is where each function the run hosts listens, as
	// FormatFunctionURLs writes it: what a dead letter's knativeerrordest
	// (the failing function's address) is told apart by.
	FunctionURLs = "NOVA_FUNCTION_URLS"
)

// Function is one hosted function and its base URL.
type Function struct{ Name, URL string }

// FormatFunctionURLs is the value of FunctionURLs: name=url pairs
// separated by commas, a shell word without quotes.
func FormatFunctionURLs(fns []Function) string {
	pairs := make([]string, 0, len(fns))
	for _, f := range fns {
		pairs = append(pairs, f.Name+"="+f.URL)
	}
	return strings.Join(pairs, ",")
}

// ParseFunctionURLs reads a value FormatFunctionURLs wrote, skipping a
// pair without a name or URL.
func ParseFunctionURLs(v string) []Function {
	var out []Function
	for _, pair := range strings.Split(v, ",") {
		name, u, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && name != "" && u != "" {
			out = append(out, Function{Name: name, URL: u})
		}
	}
	return out
}

// Dir is the data folder of the Nova checkout at root.
func Dir(root string) string { return filepath.Join(root, ".nova") }

// Path is the file a nova run of the checkout at root writes.
func Path(root string) string { return filepath.Join(Dir(root), "env") }

// Var is one variable of the file.
type Var struct{ Key, Value string }

// File is a file as read.
type File struct {
	Path string
	// PID is the nova run that wrote it.
	PID int
	// Vars are its variables in the order written, the pid left out.
	Vars []Var
}

// Get returns the value of key.
func (f *File) Get(key string) (string, bool) {
	for _, v := range f.Vars {
		if v.Key == key {
			return v.Value, true
		}
	}
	return "", false
}

// Live reports whether the process that wrote f still runs. A nova run
// killed without a chance to remove its file leaves it behind; that file
// names addresses nothing listens on any more.
func (f *File) Live() bool {
	if f.PID <= 0 {
		return false
	}
	p, err := os.FindProcess(f.PID)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	// EPERM: the process exists and belongs to someone else.
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Write writes vars with the writer's pid to path, replacing any file
// there at once (a reader never sees half of it), readable by its owner
// only: it may hold the run's own Kafka login.
func Write(path string, pid int, vars []Var) error {
	var b bytes.Buffer
	b.WriteString("# Where the running nova run serves, for the other nova commands (nova env prints it as exports).\n")
	b.WriteString("# Written at start-up, removed on exit; a file whose " + PID + " no longer runs is stale.\n")
	fmt.Fprintf(&b, "%s=%d\n", PID, pid)
	for _, v := range vars {
		if !validKey(v.Key) {
			return fmt.Errorf("instance: %q is not a variable name", v.Key)
		}
		if strings.ContainsAny(v.Value, "\n\x00") {
			return fmt.Errorf("instance: the value of %s holds a line break or NUL", v.Key)
		}
		fmt.Fprintf(&b, "%s=%s\n", v.Key, Quote(v.Value))
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".env-*")
	if err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	// CreateTemp makes it 0600 already; said again because it matters.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("instance: %w", err)
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("instance: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("instance: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	return nil
}

// Remove deletes the file at path if it is the one pid wrote, so a run
// that stops never removes the file of another run started since.
func Remove(path string, pid int) error {
	f, err := Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if f.PID != pid {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("instance: %w", err)
	}
	return nil
}

// Read parses the file at path: comments, blank lines and KEY=VALUE lines,
// VALUE as Quote writes it (or a shell word without quotes).
func Read(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	f := &File{Path: path}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, quoted, ok := strings.Cut(line, "=")
		if !ok || !validKey(key) {
			return nil, fmt.Errorf("instance: %s:%d: not a KEY=VALUE line", path, n)
		}
		value, err := Unquote(quoted)
		if err != nil {
			return nil, fmt.Errorf("instance: %s:%d: %s: %w", path, n, key, err)
		}
		if key == PID {
			if f.PID, err = strconv.Atoi(value); err != nil {
				return nil, fmt.Errorf("instance: %s:%d: %s %q is not a pid", path, n, key, value)
			}
			continue
		}
		f.Vars = append(f.Vars, Var{Key: key, Value: value})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("instance: %s: %w", path, err)
	}
	return f, nil
}

// Quote makes s one shell word: as it is when it holds nothing a shell
// would read specially, else in single quotes, each quote inside it
// closed, escaped and reopened.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,=@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Unquote reads one shell word of plain characters and single-quoted
// parts, the words Quote writes.
func Unquote(w string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(w); {
		switch c := w[i]; {
		case c == '\'':
			end := strings.IndexByte(w[i+1:], '\'')
			if end < 0 {
				return "", errors.New("unterminated single quote")
			}
			b.WriteString(w[i+1 : i+1+end])
			i += end + 2
		case c == '\\' && i+1 < len(w):
			b.WriteByte(w[i+1])
			i += 2
		case strings.IndexByte(" \t\"$`;&|<>()*?[]{}~!#", c) >= 0:
			return "", fmt.Errorf("%q needs quoting", c)
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

func validKey(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
