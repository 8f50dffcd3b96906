package broker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/nova-social/nova/shared/localca"
)

// LocalTLS is a certificate authority made for one run of the embedded
// broker and the broker's certificate it signed for 127.0.0.1 and
// localhost: TLS locally as a Strimzi cluster has it, without a
// certificate to manage. Clients trust CAPEM.
type LocalTLS struct {
	Server *tls.Config
	CAPEM  string
}

// NewLocalTLS makes a fresh CA and server certificate, valid for a week.
func NewLocalTLS() (LocalTLS, error) {
	ca, err := localca.New("nova local Kafka CA", 7*24*time.Hour)
	if err != nil {
		return LocalTLS{}, fmt.Errorf("broker: local CA: %w", err)
	}
	leaf, err := ca.Issue("localhost", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return LocalTLS{}, fmt.Errorf("broker: local certificate: %w", err)
	}
	return LocalTLS{
		Server: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{leaf.TLS}},
		CAPEM:  string(ca.PEM),
	}, nil
}
