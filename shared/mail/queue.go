package mail

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/migrate"
)

// Component is the mail queue's name in nova_schema_migrations.
const Component = "mail"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or upgrades the mail queue.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	return migrate.Apply(ctx, pool, Component, sub)
}

// QueueConfig holds what a Queue needs. Pool and Sender are required.
type QueueConfig struct {
	Pool   *pgxpool.Pool
	Sender Sender
	// From is the sender address every message goes out with.
	From string
	// PollInterval is how often Run looks for due mail it was not woken
	// for (another replica queued it). Default 2s.
	PollInterval time.Duration
	// MaxBackoff bounds the wait between tries of one message; it doubles
	// from 2s. Default 10m.
	MaxBackoff time.Duration
	// GiveUpAfter is how long a message is retried before it is marked
	// failed. Default 24h, the life of a verification code.
	GiveUpAfter time.Duration
	// Batch is the most messages one round takes. Default 20.
	Batch  int
	Logger *slog.Logger
	Now    func() time.Time
}

// Defaults returns c with unset optional fields at their defaults.
func (c QueueConfig) Defaults() QueueConfig {
	if c.PollInterval == 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Minute
	}
	if c.GiveUpAfter == 0 {
		c.GiveUpAfter = 24 * time.Hour
	}
	if c.Batch == 0 {
		c.Batch = 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports a configuration a Queue cannot run with.
func (c QueueConfig) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is nil"))
	}
	if c.Sender == nil {
		errs = append(errs, errors.New("sender is nil"))
	}
	if c.From == "" {
		errs = append(errs, errors.New("no sender address"))
	}
	if c.PollInterval <= 0 || c.MaxBackoff <= 0 || c.GiveUpAfter <= 0 || c.Batch <= 0 {
		errs = append(errs, errors.New("poll interval, backoff, give-up age and batch must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mail queue: %w", err)
	}
	return nil
}

// Queue is the durable mail queue. Enqueue is safe for concurrent use; Run
// may run in every replica (rows are claimed with SKIP LOCKED).
type Queue struct {
	cfg  QueueConfig
	wake chan struct{}
}

// NewQueue returns a Queue for cfg (defaults applied, then validated).
func NewQueue(cfg QueueConfig) (*Queue, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Queue{cfg: cfg, wake: make(chan struct{}, 1)}, nil
}

// Enqueue queues m in tx: it is sent if and only if tx commits. Call Wake
// after the commit to send it without waiting for the next poll.
func (q *Queue) Enqueue(ctx context.Context, tx pgx.Tx, m Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	now := q.cfg.Now()
	_, err := tx.Exec(ctx, `INSERT INTO mail_queue (recipient, subject, body, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $4)`, m.To, m.Subject, m.Text, now)
	if err != nil {
		return fmt.Errorf("mail: enqueue: %w", err)
	}
	return nil
}

// Forget deletes, in tx, the mail to addr (any case) not sent yet, failed
// mail included: what an erased account's address leaves in the queue.
func (q *Queue) Forget(ctx context.Context, tx pgx.Tx, addr string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM mail_queue WHERE lower(recipient) = lower($1)`, addr); err != nil {
		return fmt.Errorf("mail: forget %s: %w", addr, err)
	}
	return nil
}

// Wake has this replica's Run look for due mail now.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers due mail until ctx ends.
func (q *Queue) Run(ctx context.Context) {
	t := time.NewTicker(q.cfg.PollInterval)
	defer t.Stop()
	for {
		for {
			n, err := q.Deliver(ctx)
			if err != nil {
				if ctx.Err() == nil {
					q.cfg.Logger.Warn("mail queue: round failed", "err", err)
				}
				break
			}
			if n < q.cfg.Batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-t.C:
		}
	}
}

// Deliver sends the due messages of one round and reports how many it
// took. A message the relay took is deleted; one it refused for a while
// is tried again later, with a doubling wait; one it refused for good, or
// that kept failing for GiveUpAfter, is kept as failed and logged.
func (q *Queue) Deliver(ctx context.Context) (int, error) {
	type row struct {
		id       int64
		msg      Message
		created  time.Time
		attempts int
	}
	var rows []row
	err := pgx.BeginFunc(ctx, q.cfg.Pool, func(tx pgx.Tx) error {
		rs, err := tx.Query(ctx, `SELECT id, recipient, subject, body, created_at, attempts FROM mail_queue
			WHERE failed_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at, id
			LIMIT $2 FOR UPDATE SKIP LOCKED`, q.cfg.Now(), q.cfg.Batch)
		if err != nil {
			return err
		}
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.id, &r.msg.To, &r.msg.Subject, &r.msg.Text, &r.created, &r.attempts); err != nil {
				rs.Close()
				return err
			}
			rows = append(rows, r)
		}
		if err := rs.Err(); err != nil {
			return err
		}
		for _, r := range rows {
			err := q.cfg.Sender.Send(ctx, q.cfg.From, r.msg)
			now := q.cfg.Now()
			switch {
			case err == nil:
				_, err = tx.Exec(ctx, `DELETE FROM mail_queue WHERE id = $1`, r.id)
			case ctx.Err() != nil:
				return ctx.Err()
			case Permanent(err) || now.Sub(r.created) >= q.cfg.GiveUpAfter:
				q.cfg.Logger.Error("mail queue: message not delivered, kept as failed", "id", r.id,
					"attempts", r.attempts+1, "err", err)
				_, err = tx.Exec(ctx, `UPDATE mail_queue SET attempts = attempts + 1, last_error = $2, failed_at = $3
					WHERE id = $1`, r.id, err.Error(), now)
			default:
				wait := min(q.cfg.MaxBackoff, 2*time.Second<<min(r.attempts, 20))
				q.cfg.Logger.Warn("mail queue: delivery failed, will try again", "id", r.id,
					"attempts", r.attempts+1, "retry_in", wait, "err", err)
				_, err = tx.Exec(ctx, `UPDATE mail_queue SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3
					WHERE id = $1`, r.id, err.Error(), now.Add(wait))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mail: deliver: %w", err)
	}
	return len(rows), nil
}
