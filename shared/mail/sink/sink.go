// Package sink is a local mail relay: an SMTP server that takes the mail
// addressed to anyone and keeps it, in memory and, when given a folder,
// as one .eml file per message under a folder per recipient. nova run
// sends Nova's mail there in place of a cluster's relay, and tests read
// the codes they need from it. It demands AUTH PLAIN with its own login
// when it has one, as a relay does.
package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/nova-social/nova/shared/mail"
)

// Config says how a Sink runs.
type Config struct {
	// Addr is where it listens (host:port; port 0 picks one). It must be
	// a loopback address: the sink takes passwords in the clear.
	Addr string
	// Username and Password are the one login it takes; empty: none asked.
	Username, Password string
	// Dir, when set, keeps each message as Dir/<recipient>/<n>.eml.
	Dir string
	// Keep is how many messages it holds in memory, the oldest dropped
	// first (they stay in Dir). Default 10000.
	Keep   int
	Logger *slog.Logger
}

// Received is a message as the sink took it.
type Received struct {
	mail.Message
	// Rcpt is the envelope recipient (RCPT TO), lower-cased.
	Rcpt string
	// Raw is the message as sent.
	Raw  []byte
	At   time.Time
	File string
}

// Sink is a running local relay.
type Sink struct {
	cfg Config
	srv *smtp.Server
	ln  net.Listener
	mu  sync.Mutex
	got []Received
	seq int
	// arrived is closed and replaced on every message, to wake Wait.
	arrived chan struct{}
	done    chan struct{}
}

// Start listens on cfg.Addr and serves until Close.
func Start(cfg Config) (*Sink, error) {
	if cfg.Keep == 0 {
		cfg.Keep = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail sink: address %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("mail sink: %s is not a loopback address", host)
	}
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("mail sink: %w", err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail sink: %w", err)
	}
	s := &Sink{cfg: cfg, ln: ln, arrived: make(chan struct{}), done: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{sink: s}, nil }))
	s.srv.Domain = "nova-mail-sink.local"
	s.srv.AllowInsecureAuth = true // loopback only, checked above
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 10
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.ErrorLog = slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			cfg.Logger.Error("mail sink stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the host:port it listens on.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Env is the nova-api environment that sends its mail here.
func (s *Sink) Env() map[string]string {
	return map[string]string{
		mail.EnvAddr:     s.Addr(),
		mail.EnvTLS:      string(mail.NoTLS),
		mail.EnvUsername: s.cfg.Username,
		mail.EnvPassword: s.cfg.Password,
		mail.EnvFrom:     "Nova <no-reply@nova.localhost>",
	}
}

// Close stops the server.
func (s *Sink) Close() error {
	err := s.srv.Close()
	// Serve may not have taken the listener yet, and then the server's
	// Close did not close it.
	_ = s.ln.Close()
	<-s.done
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	return err
}

// Messages are the messages held for rcpt (any case), oldest first.
func (s *Sink) Messages(rcpt string) []Received {
	rcpt = strings.ToLower(rcpt)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Received
	for _, m := range s.got {
		if m.Rcpt == rcpt {
			out = append(out, m)
		}
	}
	return out
}

// Wait returns the n-th message (1-based) for rcpt, waiting for it until
// ctx ends.
func (s *Sink) Wait(ctx context.Context, rcpt string, n int) (Received, error) {
	for {
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		if got := s.Messages(rcpt); len(got) >= n {
			return got[n-1], nil
		}
		select {
		case <-ctx.Done():
			return Received{}, fmt.Errorf("mail sink: no message %d for %s: %w", n, rcpt, context.Cause(ctx))
		case <-arrived:
		}
	}
}

func (s *Sink) take(rcpts []string, raw []byte) error {
	msg, err := mail.Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rcpt := range rcpts {
		s.seq++
		r := Received{Message: msg, Rcpt: rcpt, Raw: raw, At: time.Now()}
		if s.cfg.Dir != "" {
			dir := filepath.Join(s.cfg.Dir, Folder(rcpt))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			r.File = filepath.Join(dir, fmt.Sprintf("%d-%d.eml", r.At.UnixNano(), s.seq))
			if err := os.WriteFile(r.File, raw, 0o600); err != nil {
				return err
			}
		}
		s.got = append(s.got, r)
		s.cfg.Logger.Info("mail sink: message kept", "to", rcpt, "subject", msg.Subject, "file", r.File)
	}
	if over := len(s.got) - s.cfg.Keep; over > 0 {
		s.got = slices.Delete(s.got, 0, over)
	}
	close(s.arrived)
	s.arrived = make(chan struct{})
	return nil
}

// Folder is the folder name a recipient's mail is kept under: the address
// lower-cased, with any byte a file name should not hold escaped.
func Folder(rcpt string) string {
	var b strings.Builder
	for _, c := range []byte(strings.ToLower(rcpt)) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', strings.IndexByte("@.+-_", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteString("%" + strconv.FormatUint(uint64(c), 16))
		}
	}
	return b.String()
}

// ReadDir reads the messages kept for rcpt under dir (a Sink's Dir,
// possibly another process's), oldest first.
func ReadDir(dir, rcpt string) ([]mail.Message, error) {
	folder := filepath.Join(dir, Folder(rcpt))
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, err
	}
	var out []mail.Message
	for _, e := range entries { // ReadDir sorts by name: by arrival
		raw, err := os.ReadFile(filepath.Join(folder, e.Name()))
		if err != nil {
			return nil, err
		}
		m, err := mail.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, m)
	}
	return out, nil
}

type session struct {
	sink   *Sink
	authed bool
	rcpts  []string
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}

func (ss *session) AuthMechanisms() []string {
	if ss.sink.cfg.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username || username != ss.sink.cfg.Username || password != ss.sink.cfg.Password {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(string, *smtp.MailOptions) error {
	if ss.sink.cfg.Username != "" && !ss.authed {
		return errAuthRequired
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	// A domain that cannot exist (RFC 2606) bounces, as at a real relay.
	if strings.HasSuffix(strings.ToLower(to), ".invalid") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 2}, Message: "no such domain"}
	}
	ss.rcpts = append(ss.rcpts, strings.ToLower(to))
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return ss.sink.take(ss.rcpts, raw)
}

func (ss *session) Reset()        { ss.rcpts = nil }
func (ss *session) Logout() error { return nil }
