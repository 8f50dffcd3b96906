// Package localca is a certificate authority made on the spot, for where
// no operator issues certificates: the local runtime's Kafka (a CA per
// run) and the tests (a CA per test). Its certificates are for this
// machine only: a server certificate names localhost, 127.0.0.1 and ::1.
package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// CA signs certificates with a fresh P-256 key.
type CA struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	validity time.Duration
	// PEM is the CA's certificate, what clients trust.
	PEM []byte
}

// New makes a CA named name whose certificates, its own included, are
// valid from an hour ago for validity.
func New(name string, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	tmpl, err := template(name, validity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	return &CA{cert: cert, key: key, validity: validity, PEM: pemBlock("CERTIFICATE", der)}, nil
}

// Leaf is a certificate the CA signed and its key.
type Leaf struct {
	CertPEM, KeyPEM []byte
	TLS             tls.Certificate
}

// Issue signs a certificate for name, for the given uses; one for server
// authentication names this machine (localhost, 127.0.0.1, ::1).
func (c *CA) Issue(name string, usages ...x509.ExtKeyUsage) (Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, fmt.Errorf("localca: %w", err)
	}
	tmpl, err := template(name, c.validity)
	if err != nil {
		return Leaf{}, err
	}
	tmpl.KeyUsage, tmpl.ExtKeyUsage = x509.KeyUsageDigitalSignature, usages
	if slices.Contains(usages, x509.ExtKeyUsageServerAuth) {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return Leaf{}, fmt.Errorf("localca: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Leaf{}, fmt.Errorf("localca: %w", err)
	}
	return Leaf{
		CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", keyDER),
		TLS: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}, nil
}

// template is a certificate valid from an hour ago (clock skew) for
// validity, with a random serial.
func template(name string, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("localca: serial: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity)}, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
