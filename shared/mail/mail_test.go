package mail_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/mail"
	"github.com/nova-social/nova/shared/mail/sink"
	"github.com/nova-social/nova/shared/testrig"
)

func startSink(t *testing.T, cfg sink.Config) *sink.Sink {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := sink.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func sender(t *testing.T, env map[string]string) *mail.SMTP {
	t.Helper()
	cfg, err := mail.SMTPConfigFromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMTPDeliversToTheRelayWithItsLogin(t *testing.T) {
	s := startSink(t, sink.Config{Username: "nova", Password: "relay secret", Dir: t.TempDir()})
	smtp := sender(t, s.Env())
	text := "Héllo,\n\n" + strings.Repeat("a line longer than any mail line may be ", 40) + "\nVerification code: abc_DEF-123\n"
	msg := mail.Message{To: "Alice@Example.com", Subject: "Confirm your Nova account — now", Text: text}
	if err := smtp.Send(context.Background(), smtp.From(), msg); err != nil {
		t.Fatal(err)
	}
	got := s.Messages("alice@example.com")
	if len(got) != 1 {
		t.Fatalf("sink holds %d messages for alice, want 1", len(got))
	}
	if got[0].Subject != msg.Subject || got[0].Text != text {
		t.Fatalf("kept %q / %q, sent %q / %q", got[0].Subject, got[0].Text, msg.Subject, text)
	}
	for _, line := range strings.Split(string(got[0].Raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("a line of %d bytes went out", len(line))
		}
	}
	if got[0].File == "" {
		t.Fatal("the sink kept no file though it was given a folder")
	}
	onDisk, err := sink.ReadDir(filepath.Dir(filepath.Dir(got[0].File)), "ALICE@example.com")
	if err != nil || len(onDisk) != 1 || onDisk[0].Text != text {
		t.Fatalf("ReadDir: %+v, %v", onDisk, err)
	}
}

func TestSMTPWithAWrongPasswordIsRefusedAndNotPermanent(t *testing.T) {
	s := startSink(t, sink.Config{Username: "nova", Password: "relay secret"})
	env := s.Env()
	env[mail.EnvPassword] = "guess"
	err := sender(t, env).Send(context.Background(), env[mail.EnvFrom], mail.Message{To: "bob@example.com", Subject: "hi", Text: "x"})
	if err == nil || mail.Permanent(err) {
		t.Fatalf("wrong password: %v (permanent %v), want a temporary error", err, mail.Permanent(err))
	}
	delete(env, mail.EnvUsername)
	delete(env, mail.EnvPassword)
	if err := sender(t, env).Send(context.Background(), env[mail.EnvFrom], mail.Message{To: "bob@example.com", Subject: "hi", Text: "x"}); err == nil {
		t.Fatal("the relay took mail without a login")
	}
	if n := len(s.Messages("bob@example.com")); n != 0 {
		t.Fatalf("%d messages kept from senders without the login", n)
	}
}

func TestSMTPConfigRefusesAPasswordInTheClearOverANetwork(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{mail.EnvAddr: "relay.example.com:25", mail.EnvTLS: "none", mail.EnvUsername: "u", mail.EnvPassword: "p", mail.EnvFrom: "n@example.com"}, "in the clear"},
		{map[string]string{mail.EnvAddr: "relay.example.com", mail.EnvFrom: "n@example.com"}, "host:port"},
		{map[string]string{mail.EnvAddr: "relay.example.com:587", mail.EnvFrom: "nobody"}, "MAIL_FROM"},
		{map[string]string{mail.EnvAddr: "relay.example.com:587", mail.EnvTLS: "ssl", mail.EnvFrom: "n@example.com"}, "SMTP_TLS"},
		{map[string]string{mail.EnvAddr: "relay.example.com:587", mail.EnvUsername: "u", mail.EnvFrom: "n@example.com"}, "SMTP_PASSWORD"},
	} {
		if _, err := mail.SMTPConfigFromEnv(tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
	ok := map[string]string{mail.EnvAddr: "relay.example.com:587", mail.EnvUsername: "u", mail.EnvPassword: "p", mail.EnvFrom: "Nova <n@example.com>"}
	if c, err := mail.SMTPConfigFromEnv(ok); err != nil || c.TLS != mail.StartTLS {
		t.Fatalf("%v: %+v, %v; want STARTTLS by default", ok, c, err)
	}
}

func TestStartTLSIsDemanded(t *testing.T) {
	// The sink offers no STARTTLS: a sender configured for it must not
	// fall back to the clear.
	s := startSink(t, sink.Config{})
	env := s.Env()
	env[mail.EnvTLS] = string(mail.StartTLS)
	delete(env, mail.EnvUsername)
	delete(env, mail.EnvPassword)
	if err := sender(t, env).Send(context.Background(), env[mail.EnvFrom], mail.Message{To: "c@example.com", Subject: "hi", Text: "x"}); err == nil {
		t.Fatal("sent without the STARTTLS the configuration demands")
	}
	if n := len(s.Messages("c@example.com")); n != 0 {
		t.Fatalf("%d messages went out in the clear", n)
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func queue(t *testing.T, pool *pgxpool.Pool, env map[string]string, c *clock) *mail.Queue {
	t.Helper()
	s := sender(t, env)
	q, err := mail.NewQueue(mail.QueueConfig{Pool: pool, Sender: s, From: s.From(), Now: c.now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func enqueue(t *testing.T, pool *pgxpool.Pool, q *mail.Queue, msgs ...mail.Message) {
	t.Helper()
	ctx := context.Background()
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, m := range msgs {
			if err := q.Enqueue(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

type queued struct {
	attempts int
	failed   bool
	lastErr  string
}

func rows(t *testing.T, pool *pgxpool.Pool) map[string]queued {
	t.Helper()
	rs, err := pool.Query(context.Background(), `SELECT recipient, attempts, failed_at IS NOT NULL, last_error FROM mail_queue`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]queued{}
	for rs.Next() {
		var (
			r string
			q queued
		)
		if err := rs.Scan(&r, &q.attempts, &q.failed, &q.lastErr); err != nil {
			t.Fatal(err)
		}
		out[r] = q
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestQueueKeepsMailUntilTheRelayTakesIt(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := mail.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// A relay that is down: the address of a sink that was closed.
	down := startSink(t, sink.Config{Username: "nova", Password: "pw"})
	env := down.Env()
	addr := down.Addr()
	_ = down.Close()
	c := &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	q := queue(t, pool, env, c)

	// A rolled-back transaction queues nothing.
	_ = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := q.Enqueue(ctx, tx, mail.Message{To: "ghost@example.com", Subject: "s", Text: "t"}); err != nil {
			t.Fatal(err)
		}
		return context.Canceled
	})
	enqueue(t, pool, q, mail.Message{To: "dora@example.com", Subject: "Your code", Text: "Verification code: x1"},
		mail.Message{To: "nobody@nowhere.invalid", Subject: "Your code", Text: "Verification code: x2"})

	if n, err := q.Deliver(ctx); err != nil || n != 2 {
		t.Fatalf("first round: %d, %v; want both tried", n, err)
	}
	got := rows(t, pool)
	if len(got) != 2 || got["dora@example.com"].attempts != 1 || got["dora@example.com"].failed || got["dora@example.com"].lastErr == "" {
		t.Fatalf("after a failed round the queue holds %+v; want both kept, tried once, with the reason", got)
	}
	// Not due again until the backoff passed.
	if n, err := q.Deliver(ctx); err != nil || n != 0 {
		t.Fatalf("round within the backoff: %d, %v; want none taken", n, err)
	}

	up, err := sink.Start(sink.Config{Addr: addr, Username: "nova", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = up.Close() })
	c.t = c.t.Add(3 * time.Second)
	if n, err := q.Deliver(ctx); err != nil || n != 2 {
		t.Fatalf("round after the relay came back: %d, %v", n, err)
	}
	if m := up.Messages("dora@example.com"); len(m) != 1 || m[0].Text != "Verification code: x1\n" {
		t.Fatalf("relay got %+v for dora", m)
	}
	got = rows(t, pool)
	if _, kept := got["dora@example.com"]; kept {
		t.Fatal("a delivered message stayed queued")
	}
	if b := got["nobody@nowhere.invalid"]; !b.failed || !strings.Contains(b.lastErr, "no such domain") {
		t.Fatalf("a bounced message is %+v; want kept as failed with the relay's reason", b)
	}
	if len(up.Messages("ghost@example.com")) != 0 {
		t.Fatal("mail of a rolled-back transaction went out")
	}
	if n, err := q.Deliver(ctx); err != nil || n != 0 {
		t.Fatalf("a failed message was tried again: %d, %v", n, err)
	}
}

func TestQueueGivesUpAfterItsWindow(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := mail.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	down := startSink(t, sink.Config{})
	env := down.Env()
	_ = down.Close()
	c := &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	q := queue(t, pool, env, c)
	enqueue(t, pool, q, mail.Message{To: "erin@example.com", Subject: "s", Text: "t"})
	for i := range 40 {
		if _, err := q.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
		if rows(t, pool)["erin@example.com"].failed {
			if c.t.Sub(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)) < 24*time.Hour {
				t.Fatalf("gave up after %s", c.t.Sub(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)))
			}
			return
		}
		c.t = c.t.Add(10*time.Minute + time.Duration(i)*time.Hour)
	}
	t.Fatal("never gave up on a relay that stayed down")
}

func TestForgetDropsAnAddressesUnsentMail(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := mail.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	q := queue(t, pool, startSink(t, sink.Config{}).Env(), &clock{t: time.Now()})
	enqueue(t, pool, q, mail.Message{To: "Fay@Example.com", Subject: "s", Text: "t"}, mail.Message{To: "gus@example.com", Subject: "s", Text: "t"})
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return q.Forget(ctx, tx, "fay@example.com") }); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, pool); len(got) != 1 || got["gus@example.com"].attempts != 0 {
		t.Fatalf("after forgetting fay the queue holds %+v, want gus's alone", got)
	}
}
