package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"

	"github.com/nova-social/nova/shared/envconf"
)

// The environment variables a function's func.yaml sets for Kafka's TLS
// and SASL, read by SecurityFromEnv.
const (
	EnvTLS          = "KAFKA_TLS"           // "true": connect over TLS
	EnvTLSCACert    = "KAFKA_TLS_CA_CERT"   // PEM of the CA(s) the brokers' certificates chain to
	EnvTLSCAFile    = "KAFKA_TLS_CA_FILE"   // or a file holding it
	EnvTLSCert      = "KAFKA_TLS_CERT"      // PEM of the client certificate (mTLS)
	EnvTLSCertFile  = "KAFKA_TLS_CERT_FILE" // or a file holding it
	EnvTLSKey       = "KAFKA_TLS_KEY"       // PEM of the client key (mTLS)
	EnvTLSKeyFile   = "KAFKA_TLS_KEY_FILE"  // or a file holding it
	EnvSASLMech     = "KAFKA_SASL_MECHANISM"
	EnvSASLUsername = "KAFKA_SASL_USERNAME"
	EnvSASLPassword = "KAFKA_SASL_PASSWORD" //nolint:gosec // the variable's name, not a credential
)

// Mechanism is a SASL mechanism, named as Kafka names it.
type Mechanism string

const (
	// NoSASL sends no credentials.
	NoSASL Mechanism = ""
	// ScramSHA512 is what Strimzi's scram-sha-512 KafkaUsers log in with.
	ScramSHA512 Mechanism = "SCRAM-SHA-512"
	ScramSHA256 Mechanism = "SCRAM-SHA-256"
	// Plain sends the password itself, so it is only accepted over TLS.
	Plain Mechanism = "PLAIN"
)

// ParseMechanism reads a mechanism as KAFKA_SASL_MECHANISM or a
// KafkaSource's sasl.type holds it: any case, "-" and "_" alike.
func ParseMechanism(s string) (Mechanism, error) {
	norm := strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(s)), "_", "-")
	switch m := Mechanism(norm); m {
	case NoSASL, ScramSHA512, ScramSHA256, Plain:
		return m, nil
	}
	return NoSASL, fmt.Errorf("unknown SASL mechanism %q (want SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN)", s)
}

// Security is how a client protects its connections to Kafka and proves
// who it is. The zero value is plaintext without credentials, what the
// embedded broker of old spoke. There is deliberately no way to skip
// verifying the brokers' certificates.
type Security struct {
	// TLS encrypts every connection and verifies the brokers'
	// certificates against CA (or the system's roots when none is given).
	TLS bool
	// CAPEM or CAFile: the CA(s) to trust, PEM.
	CAPEM  string
	CAFile string
	// A client certificate and its key, PEM, for brokers that
	// authenticate clients by certificate (mTLS).
	CertPEM, CertFile string
	KeyPEM, KeyFile   string

	// SASL, when set, logs in with Username and Password.
	SASL     Mechanism
	Username string
	Password string

	// envErr keeps what SecurityFromEnv could not read, for Validate.
	envErr error
}

// SecurityFromEnv reads the KAFKA_TLS* and KAFKA_SASL_* variables.
// Malformed values are reported by Validate.
func SecurityFromEnv(env map[string]string) Security {
	s := Security{
		CAPEM: env[EnvTLSCACert], CAFile: strings.TrimSpace(env[EnvTLSCAFile]),
		CertPEM: env[EnvTLSCert], CertFile: strings.TrimSpace(env[EnvTLSCertFile]),
		KeyPEM: env[EnvTLSKey], KeyFile: strings.TrimSpace(env[EnvTLSKeyFile]),
		Username: strings.TrimSpace(env[EnvSASLUsername]),
		Password: env[EnvSASLPassword],
	}
	// One reading of a switch for every Nova setting (true/1/yes/on, ...).
	e := envconf.New(env)
	s.TLS = e.Bool(EnvTLS, false)
	errs := []error{e.Err()}
	m, err := ParseMechanism(env[EnvSASLMech])
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvSASLMech, err))
	}
	s.SASL = m
	s.envErr = errors.Join(errs...)
	return s
}

// String says how s connects, without the secrets: "plaintext",
// "TLS, SCRAM-SHA-512 user feed-fanout", ... A refused login shows up in
// errors under this name (a broker may just close the connection).
func (s Security) String() string {
	var parts []string
	switch {
	case !s.TLS:
		parts = append(parts, "plaintext")
	case s.CertPEM != "" || s.CertFile != "":
		parts = append(parts, "TLS with a client certificate")
	default:
		parts = append(parts, "TLS")
	}
	if s.SASL != NoSASL {
		parts = append(parts, fmt.Sprintf("%s user %s", s.SASL, s.Username))
	}
	return strings.Join(parts, ", ")
}

// Env is s as the environment variables SecurityFromEnv reads, for
// handing a child process (a function under nova run) its credentials.
// Only the settings that are set appear.
func (s Security) Env() map[string]string {
	env := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			env[k] = v
		}
	}
	if s.TLS {
		env[EnvTLS] = "true"
	}
	set(EnvTLSCACert, s.CAPEM)
	set(EnvTLSCAFile, s.CAFile)
	set(EnvTLSCert, s.CertPEM)
	set(EnvTLSCertFile, s.CertFile)
	set(EnvTLSKey, s.KeyPEM)
	set(EnvTLSKeyFile, s.KeyFile)
	set(EnvSASLMech, string(s.SASL))
	set(EnvSASLUsername, s.Username)
	set(EnvSASLPassword, s.Password)
	return env
}

// Validate reports settings no secure connection can come of, each by
// its variable's name.
func (s Security) Validate() error {
	errs := []error{s.envErr}
	if _, err := ParseMechanism(string(s.SASL)); err != nil {
		errs = append(errs, err)
	}
	// A user name alone is harmless (a func.yaml may name its KafkaUser
	// while the mechanism is switched off); a password would go unused.
	if s.SASL == NoSASL && s.Password != "" {
		errs = append(errs, fmt.Errorf("%s is set without %s: set the mechanism (SCRAM-SHA-512 for a Strimzi KafkaUser)", EnvSASLPassword, EnvSASLMech))
	}
	if s.SASL != NoSASL && (s.Username == "" || s.Password == "") {
		errs = append(errs, fmt.Errorf("%s %s needs both %s and %s", EnvSASLMech, s.SASL, EnvSASLUsername, EnvSASLPassword))
	}
	if s.SASL == Plain && !s.TLS {
		errs = append(errs, fmt.Errorf("%s PLAIN sends the password in the clear: it needs %s=true (or use SCRAM-SHA-512)", EnvSASLMech, EnvTLS))
	}
	pairs := []struct {
		pem, file string
		envPEM    string
		envFile   string
	}{
		{s.CAPEM, s.CAFile, EnvTLSCACert, EnvTLSCAFile},
		{s.CertPEM, s.CertFile, EnvTLSCert, EnvTLSCertFile},
		{s.KeyPEM, s.KeyFile, EnvTLSKey, EnvTLSKeyFile},
	}
	for _, p := range pairs {
		if p.pem != "" && p.file != "" {
			errs = append(errs, fmt.Errorf("both %s and %s are set: give one", p.envPEM, p.envFile))
		}
		if !s.TLS && (p.pem != "" || p.file != "") {
			errs = append(errs, fmt.Errorf("%s is set but %s is not true", p.envPEM+"/"+p.envFile, EnvTLS))
		}
	}
	hasCert := s.CertPEM != "" || s.CertFile != ""
	hasKey := s.KeyPEM != "" || s.KeyFile != ""
	if hasCert != hasKey {
		errs = append(errs, fmt.Errorf("a client certificate needs its key and a key its certificate (%s, %s)", EnvTLSCert, EnvTLSKey))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kafka: security: %w", err)
	}
	return nil
}

// TLSConfig is the client TLS configuration, nil when TLS is off. It
// reads the PEM files, so an unreadable or malformed one is an error here.
func (s Security) TLSConfig() (*tls.Config, error) {
	if !s.TLS {
		return nil, nil
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	ca, err := pemOf(s.CAPEM, s.CAFile, EnvTLSCAFile)
	if err != nil {
		return nil, err
	}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("kafka: security: %s/%s holds no PEM certificate", EnvTLSCACert, EnvTLSCAFile)
		}
		tc.RootCAs = pool
	}
	cert, err := pemOf(s.CertPEM, s.CertFile, EnvTLSCertFile)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		key, err := pemOf(s.KeyPEM, s.KeyFile, EnvTLSKeyFile)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("kafka: security: client certificate and key: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

func pemOf(inline, file, env string) ([]byte, error) {
	if inline != "" {
		return []byte(inline), nil
	}
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("kafka: security: %s: %w", env, err)
	}
	return b, nil
}

// Apply sets sc's TLS and SASL from s.
func (s Security) Apply(sc *sarama.Config) error {
	tc, err := s.TLSConfig()
	if err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if tc != nil {
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config = tc
	}
	if s.SASL == NoSASL {
		return nil
	}
	sc.Net.SASL.Enable = true
	sc.Net.SASL.Handshake = true
	sc.Net.SASL.User = s.Username
	sc.Net.SASL.Password = s.Password
	switch s.SASL {
	case Plain:
		sc.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case ScramSHA256:
		sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA256} }
	case ScramSHA512:
		sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
	}
	return nil
}

// scramClient is the SCRAM exchange Sarama drives (its SCRAMClient).
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	cl, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = cl.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }
