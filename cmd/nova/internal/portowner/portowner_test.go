package portowner_test

import (
	"net"
	"os"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/portowner"
)

// A port this test listens on is found to be held by this process, under
// its name, on IPv4 and IPv6 alike.
func TestListeningFindsThisProcess(t *testing.T) {
	self, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatalf("this test needs Linux's /proc: %v", err)
	}
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := "127.0.0.1:0"
		if network == "tcp6" {
			addr = "[::1]:0"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			if network == "tcp6" {
				t.Logf("no IPv6 loopback here: %v", err)
				continue
			}
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		got := portowner.Listening(port)
		if len(got) != 1 || got[0].PID != os.Getpid() || got[0].Command+"\n" != string(self) {
			t.Errorf("%s port %d: holders %v, want this process, pid %d (%q)", network, port, got, os.Getpid(), self)
		}
		ln.Close()
		if got := portowner.Listening(port); len(got) != 0 {
			t.Errorf("%s port %d closed, still held by %v", network, port, got)
		}
	}
}
