package notification

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/outbox"
)

// Kind is what a notification is about, as the API and the table write it.
type Kind string

// The kinds of notification.
const (
	Message Kind = "MESSAGE"
	Follow  Kind = "FOLLOW"
	Like    Kind = "LIKE"
	Comment Kind = "COMMENT"
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	switch k {
	case Message, Follow, Like, Comment:
		return true
	}
	return false
}

// Proto is the kind in the event contract.
func (k Kind) Proto() eventsv1.NotificationKind {
	switch k {
	case Message:
		return eventsv1.NotificationKind_NOTIFICATION_KIND_MESSAGE
	case Follow:
		return eventsv1.NotificationKind_NOTIFICATION_KIND_FOLLOW
	case Like:
		return eventsv1.NotificationKind_NOTIFICATION_KIND_LIKE
	case Comment:
		return eventsv1.NotificationKind_NOTIFICATION_KIND_COMMENT
	}
	return eventsv1.NotificationKind_NOTIFICATION_KIND_UNSPECIFIED
}

// countsRepeats reports whether a further action by someone already listed
// counts again: each message and comment is news, a second like or follow by
// the same person (after an unlike or unfollow) is not.
func (k Kind) countsRepeats() bool { return k == Message || k == Comment }

// Notification is an inbox entry as the API shows it.
type Notification struct {
	ID          string     `json:"id"`
	RecipientID string     `json:"recipient_id"`
	Kind        Kind       `json:"kind"`
	SubjectID   string     `json:"subject_id"`
	ActorIDs    []string   `json:"actor_ids"`
	Count       int        `json:"count"`
	Text        string     `json:"text"`
	Read        bool       `json:"read"`
	ReadAt      *time.Time `json:"read_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// MaxActors bounds actor_ids: the newest actors, enough for "Ada, Bo and 3
// others".
const MaxActors = 10

// maxPreviewRunes bounds the excerpt of a message or comment in the text.
const maxPreviewRunes = 100

// Config holds the Service's dependencies. Zero fields take their defaults.
type Config struct {
	Pool   *pgxpool.Pool
	Outbox *outbox.Outbox
	Logger *slog.Logger
	// GroupWindow is how long after its creation an unread notification
	// still absorbs further actions of its group. Default 1h.
	GroupWindow time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.GroupWindow == 0 {
		c.GroupWindow = time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports a configuration the Service cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is nil"))
	}
	if c.Outbox == nil {
		errs = append(errs, errors.New("outbox is nil"))
	}
	if c.GroupWindow < 0 {
		errs = append(errs, fmt.Errorf("group window %s is negative", c.GroupWindow))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("clock is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("notification config: %w", err)
	}
	return nil
}

// Service is the notification domain. It is safe for concurrent use.
type Service struct {
	cfg Config
}

// New returns a Service; cfg gets its defaults first.
func New(cfg Config) (*Service, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg}, nil
}

// now is the service's clock at PostgreSQL's precision, so what an event
// carries equals what a later read returns.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// ErrNotFound: no such notification among the caller's.
var ErrNotFound = errors.New("notification: not found")
