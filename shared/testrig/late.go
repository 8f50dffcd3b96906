package testrig

import (
	"io"
	"net"
	"sync"
	"testing"
)

// LateService stands in for a server that is down when a test starts and
// comes up later: it returns an address where nothing listens yet, and up,
// which starts relaying connections from that address to target (the real
// server). The relay stops when the test ends.
func LateService(t testing.TB, target string) (addr string, up func()) {
	t.Helper()
	addr = freeAddr(t)
	var once sync.Once
	return addr, func() {
		once.Do(func() {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("late service on %s: %v", addr, err)
				return
			}
			t.Cleanup(func() { ln.Close() })
			go relay(ln, target)
		})
	}
}

// freeAddr is a loopback address nothing listens on now, for a server the
// test starts there (another process could take it first; on a test
// machine that is rare enough).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func relay(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer u.Close()
			go func() { _, _ = io.Copy(u, c) }()
			_, _ = io.Copy(c, u)
		}()
	}
}
