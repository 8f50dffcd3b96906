package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/nova-social/nova/shared/envconf"
)

// TLS says how the connection to the mail relay is protected.
type TLS string

const (
	// StartTLS upgrades a plain connection (port 587) and refuses a relay
	// that does not offer it. The default.
	StartTLS TLS = "starttls"
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS TLS = "tls"
	// NoTLS sends in the clear: only to a relay on the loopback interface
	// when there are credentials to send.
	NoTLS TLS = "none"
)

// Environment variables SMTPConfigFromEnv reads.
const (
	EnvAddr     = "SMTP_ADDR"
	EnvTLS      = "SMTP_TLS"
	EnvCAFile   = "SMTP_CA_FILE"
	EnvUsername = "SMTP_USERNAME"
	EnvPassword = "SMTP_PASSWORD" //nolint:gosec // the variable's name, not a credential
	EnvFrom     = "MAIL_FROM"
)

// SMTPConfig is how to reach the mail relay.
type SMTPConfig struct {
	// Addr is the relay's host:port (SMTP_ADDR). Required.
	Addr string
	// TLS is StartTLS (default), ImplicitTLS or NoTLS (SMTP_TLS).
	TLS TLS
	// RootCAs verify the relay's certificate; nil: the system's
	// (SMTP_CA_FILE names a PEM file of them).
	RootCAs *x509.CertPool
	// Username and Password log in with AUTH PLAIN when Username is set
	// (SMTP_USERNAME, SMTP_PASSWORD, from the nova-smtp Secret).
	Username, Password string
	// From is the sender address (MAIL_FROM), e.g.
	// "Nova <no-reply@nova.example>". Required.
	From string
	// Timeout bounds one delivery. Default 30s.
	Timeout time.Duration
}

// SMTPConfigFromEnv reads the SMTP_* variables and MAIL_FROM.
func SMTPConfigFromEnv(env map[string]string) (SMTPConfig, error) {
	e := envconf.New(env)
	c := SMTPConfig{
		Addr:     e.String(EnvAddr, ""),
		TLS:      TLS(strings.ToLower(e.String(EnvTLS, string(StartTLS)))),
		Username: env[EnvUsername],
		Password: env[EnvPassword],
		From:     e.String(EnvFrom, ""),
	}
	if err := e.Err(); err != nil {
		return c, err
	}
	if f := env[EnvCAFile]; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return c, fmt.Errorf("%s: %w", EnvCAFile, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return c, fmt.Errorf("%s: %s holds no PEM certificate", EnvCAFile, f)
		}
	}
	c = c.Defaults()
	return c, c.Validate()
}

// Defaults returns c with unset optional fields at their defaults.
func (c SMTPConfig) Defaults() SMTPConfig {
	if c.TLS == "" {
		c.TLS = StartTLS
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	return c
}

// Validate reports a configuration that cannot send mail, or would send
// a password in the clear over a network.
func (c SMTPConfig) Validate() error {
	var errs []error
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s %q is not host:port (the mail relay nova-api sends registration mail through)", EnvAddr, c.Addr))
	}
	switch c.TLS {
	case StartTLS, ImplicitTLS:
	case NoTLS:
		if c.Username != "" && err == nil && !loopback(host) {
			errs = append(errs, fmt.Errorf("%s=none would send the SMTP password in the clear to %s: use starttls or tls", EnvTLS, host))
		}
	default:
		errs = append(errs, fmt.Errorf("%s %q is not starttls, tls or none", EnvTLS, c.TLS))
	}
	if c.Username != "" && c.Password == "" {
		errs = append(errs, fmt.Errorf("%s is set but %s is empty", EnvUsername, EnvPassword))
	}
	if a, err := mail.ParseAddress(c.From); err != nil || a.Address == "" {
		errs = append(errs, fmt.Errorf("%s %q is not a mail address", EnvFrom, c.From))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("SMTP timeout %s is not positive", c.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SMTP delivers messages to one relay, a connection per message (Nova's
// mail is a trickle: registrations).
type SMTP struct {
	cfg  SMTPConfig
	host string
	now  func() time.Time
}

// NewSMTP returns a Sender for cfg (defaults applied, then validated).
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	return &SMTP{cfg: cfg, host: host, now: time.Now}, nil
}

// From is the configured sender.
func (s *SMTP) From() string { return s.cfg.From }

// Send delivers m. A refusal by the relay comes back as an error holding
// its *smtp.SMTPError (Permanent tells a bounce from a try-again).
func (s *SMTP) Send(ctx context.Context, from string, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", s.cfg.Addr, err)
	}
	defer c.Close()
	if s.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)); err != nil {
			return fmt.Errorf("mail: log in to %s as %s: %w", s.cfg.Addr, s.cfg.Username, err)
		}
	}
	sender, err := mail.ParseAddress(from)
	if err != nil {
		return fmt.Errorf("mail: sender %q: %w", from, err)
	}
	rcpt, _ := mail.ParseAddress(m.To) // Validate parsed it
	if err := c.Mail(sender.Address, nil); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(rcpt.Address, nil); err != nil {
		return refused(fmt.Errorf("mail: RCPT TO %s: %w", rcpt.Address, err))
	}
	w, err := c.Data()
	if err != nil {
		return refused(fmt.Errorf("mail: DATA: %w", err))
	}
	if _, err := w.Write(Compose(from, m, s.now(), messageID(sender.Address))); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return refused(fmt.Errorf("mail: DATA: %w", err))
	}
	// The relay has the message once it answered the DATA; a failed QUIT
	// must not send it twice.
	_ = c.Quit()
	return nil
}

func (s *SMTP) dial(ctx context.Context) (*smtp.Client, error) {
	tlsCfg := &tls.Config{ServerName: s.host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	switch s.cfg.TLS {
	case ImplicitTLS:
		return smtp.NewClient(tls.Client(conn, tlsCfg)), nil
	case NoTLS:
		return smtp.NewClient(conn), nil
	default:
		c, err := smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			conn.Close()
			return nil, err
		}
		return c, nil
	}
}

// messageID is a fresh Message-ID at the sender's domain.
func messageID(sender string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	domain := "nova.invalid"
	if _, d, ok := strings.Cut(sender, "@"); ok && d != "" {
		domain = d
	}
	return hex.EncodeToString(b) + "@" + domain
}

// ErrRefused marks the relay's permanent refusal of a message (a 5xx to
// its recipient or content): trying again would be refused again. A
// refused login is not one: it is the relay's configuration, and mail
// waits for it to be put right.
var ErrRefused = errors.New("refused for good")

func refused(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}

// Permanent says whether err is ErrRefused.
func Permanent(err error) bool { return errors.Is(err, ErrRefused) }
