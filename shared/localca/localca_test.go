package localca_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/localca"
)

// A server certificate of the CA serves TLS on 127.0.0.1 to a client that
// trusts the CA's PEM alone, and presents a client certificate the server
// verifies against the same CA (mTLS); a client trusting another CA fails.
func TestCertificatesServeTLSAndMTLS(t *testing.T) {
	ca, err := localca.New("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue("localhost", x509.ExtKeyUsageServerAuth)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue("client", x509.ExtKeyUsageClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.PEM) {
		t.Fatal("CA PEM does not parse")
	}
	if _, err := tls.X509KeyPair(client.CertPEM, client.KeyPEM); err != nil {
		t.Fatalf("client PEM pair: %v", err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server.TLS},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("ok"))
			c.Close()
		}
	}()
	dial := func(cfg *tls.Config) error {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = io.ReadAll(c)
		return err
	}
	if err := dial(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{client.TLS}, MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatalf("mTLS with the CA's certificates: %v", err)
	}
	other, err := localca.New("other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AppendCertsFromPEM(other.PEM)
	if err := dial(&tls.Config{RootCAs: otherRoots, Certificates: []tls.Certificate{client.TLS}, MinVersion: tls.VersionTLS12}); err == nil {
		t.Fatal("a client trusting another CA connected")
	}
}
