package instance_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/instance"
)

// What Write writes, Read reads back, whatever the values hold; the file
// is its owner's only; a shell sourcing it gets the same values.
func TestWriteReadRoundTrip(t *testing.T) {
	path := instance.Path(t.TempDir())
	vars := []instance.Var{
		{Key: "KAFKA_BROKERS", Value: "127.0.0.1:9092,127.0.0.1:9093"},
		{Key: "NOVA_MAIL_DIR", Value: "/tmp/a folder/it's $HOME `x` \\ \"q\""},
		{Key: "EMPTY", Value: ""},
	}
	if err := instance.Write(path, os.Getpid(), vars); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	f, err := instance.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.PID != os.Getpid() || !f.Live() {
		t.Errorf("pid %d live %v, want this process", f.PID, f.Live())
	}
	for _, v := range vars {
		if got, ok := f.Get(v.Key); !ok || got != v.Value {
			t.Errorf("%s = %q (%v), want %q", v.Key, got, ok, v.Value)
		}
		out, err := exec.Command("sh", "-c", `set -a; . "$0"; printf %s "$`+v.Key+`"`, path).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != v.Value {
			t.Errorf("sh read %s = %q, want %q", v.Key, out, v.Value)
		}
	}
	if err := instance.Write(path, 1, []instance.Var{{Key: "BAD KEY", Value: "x"}}); err == nil {
		t.Error("wrote a variable name with a space")
	}
	if err := instance.Write(path, 1, []instance.Var{{Key: "K", Value: "a\nb"}}); err == nil {
		t.Error("wrote a value with a line break")
	}
}

// A file whose writer is gone is stale; a stopping run removes its own
// file only, not one a later run wrote.
func TestStaleAndRemove(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	gone := cmd.Process.Pid
	path := filepath.Join(t.TempDir(), "env")
	if err := instance.Write(path, gone, nil); err != nil {
		t.Fatal(err)
	}
	f, err := instance.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Live() {
		t.Errorf("the file of exited pid %d counts as live", gone)
	}
	if err := instance.Remove(path, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("removed the file of another run: %v", err)
	}
	if err := instance.Remove(path, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("own file still there: %v", err)
	}
	if err := instance.Remove(path, gone); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
}

// The functions' addresses are one shell word that reads back as written;
// a pair without a name or an address is skipped.
func TestFunctionURLs(t *testing.T) {
	fns := []instance.Function{{Name: "nova-api", URL: "http://127.0.0.1:8080"}, {Name: "feed-fanout", URL: "http://127.0.0.1:8082"}}
	v := instance.FormatFunctionURLs(fns)
	if instance.Quote(v) != v {
		t.Errorf("%q needs quoting", v)
	}
	got := instance.ParseFunctionURLs(v)
	if len(got) != len(fns) || got[0] != fns[0] || got[1] != fns[1] {
		t.Errorf("read back %+v, want %+v", got, fns)
	}
	if got := instance.ParseFunctionURLs("x,=http://a,b=, "); len(got) != 0 {
		t.Errorf("malformed pairs read as %+v", got)
	}
}
