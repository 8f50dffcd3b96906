package broker_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
)

// A data folder is one holder's: a second LockDataDir is refused at once
// with who holds it (the lock file's pid and start), and succeeds once the
// first lets go.
func TestDataFolderHasOneHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".nova", "kafka")
	first, err := broker.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock made the data folder itself (%v); only its parent is needed", err)
	}

	start := time.Now()
	_, err = broker.LockDataDir(dir)
	var le *broker.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second lock: %v, want a *LockedError", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("the second lock waited %s; it must fail at once", time.Since(start))
	}
	if le.PID != os.Getpid() || time.Since(le.Started) > time.Minute || le.Dir != dir {
		t.Errorf("holder %+v, want pid %d in %s started just now", le, os.Getpid(), dir)
	}
	for _, want := range []string{"Nova is already running in " + dir, "(pid " + strconv.Itoa(os.Getpid()) + ", started ", "--data-dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := broker.LockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
