package testrig

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/mail"
	"github.com/nova-social/nova/shared/mail/sink"
)

// Mail starts a local mail relay on the loopback for t, with a login of
// its own, and closes it when t ends. Its Env is what nova-api needs to
// send there.
func Mail(t testing.TB) *sink.Sink {
	t.Helper()
	s, err := sink.Start(sink.Config{Addr: "127.0.0.1:0", Username: "nova-" + ID(), Password: randomHex(16),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("start the local mail relay: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// MailQueue migrates pool's mail queue and returns a Queue that sends to
// relay (Mail). It does not run: a test that waits for mail runs it.
func MailQueue(t testing.TB, pool *pgxpool.Pool, relay *sink.Sink) *mail.Queue {
	t.Helper()
	if err := mail.Migrate(context.Background(), pool); err != nil {
		t.Fatalf("mail queue migrations: %v", err)
	}
	cfg, err := mail.SMTPConfigFromEnv(relay.Env())
	if err != nil {
		t.Fatal(err)
	}
	smtp, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	q, err := mail.NewQueue(mail.QueueConfig{Pool: pool, Sender: smtp, From: smtp.From(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return q
}
