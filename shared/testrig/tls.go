package testrig

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/localca"
)

// TLSFiles are PEM files of a certificate authority made for one test, a
// server certificate it signed for 127.0.0.1 and localhost, and a client
// certificate it signed (for mTLS).
type TLSFiles struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// NewTLSFiles makes a fresh CA and its certificates in the test's
// temporary folder.
func NewTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	ca, err := localca.New("nova test CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := TLSFiles{CA: filepath.Join(dir, "ca.crt"),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key")}
	write := func(path string, pem []byte) {
		if err := os.WriteFile(path, pem, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(f.CA, ca.PEM)
	// The broker presents its certificate to its own client too under
	// mTLS, so it may authenticate a client as well as a server.
	for _, l := range []struct {
		name      string
		usages    []x509.ExtKeyUsage
		cert, key string
	}{
		{"localhost", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, f.ServerCert, f.ServerKey},
		{"nova test client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, f.ClientCert, f.ClientKey},
	} {
		leaf, err := ca.Issue(l.name, l.usages...)
		if err != nil {
			t.Fatal(err)
		}
		write(l.cert, leaf.CertPEM)
		write(l.key, leaf.KeyPEM)
	}
	return f
}
