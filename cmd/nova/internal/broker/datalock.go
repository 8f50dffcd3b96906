package broker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DataLock is this process's exclusive hold on an embedded broker's data
// folder: two brokers on one folder would each rewrite the other's log.
// It is a flock on <folder>.lock (.nova/kafka.lock by default), so the
// kernel drops it when the process ends, however it ends.
type DataLock struct {
	f *os.File
}

// LockedError says that another process holds the data folder.
type LockedError struct {
	Dir string
	// PID and Started are what the holder wrote in the lock file; zero
	// when it could not be read.
	PID     int
	Started time.Time
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "pid " + strconv.Itoa(e.PID)
		if !e.Started.IsZero() {
			who += fmt.Sprintf(", started %s, %s ago", e.Started.Local().Format("2006-01-02 15:04:05"),
				time.Since(e.Started).Round(time.Second))
		}
	}
	return fmt.Sprintf("Nova is already running in %s (%s): stop it first, or give this run a data folder of its own (--data-dir or NOVA_DATA_DIR)", e.Dir, who)
}

// LockDataDir takes the lock on dir without waiting, before anything in dir
// is read or written. When another process holds it, the answer is a
// *LockedError and nothing has changed.
func LockDataDir(dir string) (*DataLock, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data folder %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("data folder %s: %w", dir, err)
	}
	path := dir + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Dir: dir}
			le.PID, le.Started = readHolder(f)
			return nil, le
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Who holds it, for the next one's message. The file stays when the
	// lock is released: removing it would let two processes lock two
	// different files of the same name.
	holder := fmt.Sprintf("pid %d\nstarted %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(holder), 0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &DataLock{f: f}, nil
}

func readHolder(f *os.File) (pid int, started time.Time) {
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return 0, time.Time{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch key {
		case "pid":
			pid, _ = strconv.Atoi(val)
		case "started":
			started, _ = time.Parse(time.RFC3339, val)
		}
	}
	return pid, started
}

// Close releases the lock. Safe on nil.
func (l *DataLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	return errors.Join(err, l.f.Close())
}
