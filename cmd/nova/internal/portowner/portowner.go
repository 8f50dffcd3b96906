// Package portowner finds the process listening on a local TCP port, so a
// port clash can name who holds the port instead of only "address already
// in use". It reads Linux's /proc: the listening sockets in /proc/net/tcp
// and tcp6 (port → socket inode), then each process's open descriptors
// (inode → pid). Best effort: another user's processes cannot be read
// without privileges, and elsewhere than Linux nothing is found.
package portowner

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Process is a process holding a port.
type Process struct {
	PID     int
	Command string // its name, as /proc/<pid>/comm gives it
}

func (p Process) String() string { return fmt.Sprintf("pid %d (%s)", p.PID, p.Command) }

const procRoot = "/proc"

// Listening returns the processes with a socket listening on port (on any
// address), in pid order; none when they cannot be found.
func Listening(port int) []Process {
	inodes := map[string]bool{}
	for _, table := range []string{"net/tcp", "net/tcp6"} {
		listeningInodes(filepath.Join(procRoot, table), port, inodes)
	}
	if len(inodes) == 0 {
		return nil
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !holdsAny(filepath.Join(procRoot, e.Name(), "fd"), inodes) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(procRoot, e.Name(), "comm"))
		name := strings.TrimSpace(string(comm))
		if name == "" {
			name = "unknown"
		}
		out = append(out, Process{PID: pid, Command: name})
	}
	return out
}

// listeningInodes adds the inodes of the sockets in LISTEN state on port
// found in one of /proc/net/tcp{,6}.
func listeningInodes(path string, port int, into map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A: TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port && fields[9] != "0" {
			into[fields[9]] = true
		}
	}
}

// holdsAny reports whether a process's fd folder has one of the sockets.
func holdsAny(fdDir string, inodes map[string]bool) bool {
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return false // another user's process, or gone
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			return true
		}
	}
	return false
}
