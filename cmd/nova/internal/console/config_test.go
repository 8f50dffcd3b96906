package console

import (
	"strings"
	"testing"
)

// The console has no login: it listens on the loopback interface or not
// at all, and links only to http(s) trace UIs.
func TestConfigRefusesWhatWouldExposeTheConsole(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:9470", "127.0.0.1:0", "[::1]:9470", "localhost:9470", "127.1.2.3:80"} {
		if err := CheckAddr(addr); err != nil {
			t.Errorf("CheckAddr(%q): %v", addr, err)
		}
	}
	for _, addr := range []string{"0.0.0.0:9470", ":9470", "192.168.1.20:9470", "[::]:9470", "example.com:9470", "127.0.0.1", "127.0.0.1:x"} {
		if err := CheckAddr(addr); err == nil {
			t.Errorf("CheckAddr(%q) took it", addr)
		}
	}
	for _, u := range []string{"", "http://127.0.0.1:16686", "https://jaeger.example.com/jaeger"} {
		if err := CheckTraceURL(u); err != nil {
			t.Errorf("CheckTraceURL(%q): %v", u, err)
		}
	}
	for _, u := range []string{"javascript:alert(1)", "//evil.example", "ftp://x", "http://u:p@host", "http://host/?q=1", "http://host/#f", "jaeger"} {
		if err := CheckTraceURL(u); err == nil {
			t.Errorf("CheckTraceURL(%q) took it", u)
		}
	}
	err := Config{Addr: "0.0.0.0:1"}.Defaults().Validate()
	for _, want := range []string{"not a loopback address", "no manifests", "no metrics registry", "no Kafka", "no database URL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate of an empty config: %v, want %q", err, want)
		}
	}
}
