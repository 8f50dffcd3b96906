package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/id"
)

// Config holds the Service's dependencies.
type Config struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// MaxDays bounds the days a summary or an activity covers. Default 90.
	MaxDays int
	// MaxHours bounds the hours a summary covers. Default 168 (a week).
	MaxHours int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxDays == 0 {
		c.MaxDays = 90
	}
	if c.MaxHours == 0 {
		c.MaxHours = 168
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
	if c.MaxDays < 1 || c.MaxHours < 1 {
		errs = append(errs, fmt.Errorf("limits must be positive (days %d, hours %d)", c.MaxDays, c.MaxHours))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("analytics config: %w", err)
	}
	return nil
}

// Service reads the analytics tables. It is safe for concurrent use.
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

// Errors of the read side.
var (
	// ErrNotFound: nothing recorded, or nothing the caller may read (the
	// API does not tell the two apart).
	ErrNotFound = errors.New("analytics: not found")
	// ErrForbidden: the caller is not an admin.
	ErrForbidden = errors.New("analytics: admins only")
)

// PostStats are a post's counters.
type PostStats struct {
	PostID    string     `json:"post_id"`
	AuthorID  string     `json:"author_id"`
	Views     int64      `json:"views"`
	Likes     int64      `json:"likes"`
	Comments  int64      `json:"comments"`
	Shares    int64      `json:"shares"`
	CreatedAt *time.Time `json:"created_at"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// Post returns the post's counters to its author or an admin; anyone else
// gets ErrNotFound, as for a post with nothing recorded.
func (s *Service) Post(ctx context.Context, caller auth.Principal, postID id.PostID) (PostStats, error) {
	var p PostStats
	err := s.cfg.Pool.QueryRow(ctx, `SELECT post_id::text, author_id::text, views, likes, comments, shares, created_at, deleted_at
		FROM analytics_posts WHERE post_id = $1`, postID.String()).
		Scan(&p.PostID, &p.AuthorID, &p.Views, &p.Likes, &p.Comments, &p.Shares, &p.CreatedAt, &p.DeletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return PostStats{}, ErrNotFound
	}
	if err != nil {
		return PostStats{}, fmt.Errorf("analytics: read post: %w", err)
	}
	if p.AuthorID != caller.UserID.String() && !caller.IsAdmin() {
		return PostStats{}, ErrNotFound
	}
	return p, nil
}

// DayCount is a count for one UTC day.
type DayCount struct {
	Day   string `json:"day"`
	Count int64  `json:"count"`
}

// TopicHour is the events of one topic in one UTC hour.
type TopicHour struct {
	Hour   time.Time `json:"hour"`
	Topic  string    `json:"topic"`
	Events int64     `json:"events"`
}

// Summary is the admins' overview.
type Summary struct {
	DailyActiveUsers      []DayCount  `json:"daily_active_users"`
	EventsPerTopicPerHour []TopicHour `json:"events_per_topic_per_hour"`
}

// Summary returns, to admins, the daily active users of the last days UTC
// days (today included) and the events per topic of the last hours UTC
// hours (this one included), oldest first; days and hours with nothing are
// left out.
func (s *Service) Summary(ctx context.Context, caller auth.Principal, days, hours int) (Summary, error) {
	if !caller.IsAdmin() {
		return Summary{}, ErrForbidden
	}
	if days < 1 || days > s.cfg.MaxDays || hours < 1 || hours > s.cfg.MaxHours {
		return Summary{}, fmt.Errorf("analytics: days must be 1..%d and hours 1..%d", s.cfg.MaxDays, s.cfg.MaxHours)
	}
	now := s.cfg.Now().UTC()
	out := Summary{DailyActiveUsers: []DayCount{}, EventsPerTopicPerHour: []TopicHour{}}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT day::text, count(*) FROM analytics_user_days
		WHERE day > $1::date - $2::int AND day <= $1::date GROUP BY day ORDER BY day`, now.Format(time.DateOnly), days)
	if err != nil {
		return Summary{}, fmt.Errorf("analytics: daily active users: %w", err)
	}
	if out.DailyActiveUsers, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (DayCount, error) {
		var d DayCount
		return d, r.Scan(&d.Day, &d.Count)
	}); err != nil {
		return Summary{}, fmt.Errorf("analytics: daily active users: %w", err)
	}
	hour := now.Truncate(time.Hour)
	rows, err = s.cfg.Pool.Query(ctx, `SELECT hour, topic, sum(events)::bigint FROM analytics_event_hours
		WHERE hour > $1 AND hour <= $2 GROUP BY hour, topic ORDER BY hour, topic`,
		hour.Add(-time.Duration(hours)*time.Hour), hour)
	if err != nil {
		return Summary{}, fmt.Errorf("analytics: events per topic: %w", err)
	}
	if out.EventsPerTopicPerHour, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (TopicHour, error) {
		var t TopicHour
		err := r.Scan(&t.Hour, &t.Topic, &t.Events)
		t.Hour = t.Hour.UTC()
		return t, err
	}); err != nil {
		return Summary{}, fmt.Errorf("analytics: events per topic: %w", err)
	}
	if out.DailyActiveUsers == nil {
		out.DailyActiveUsers = []DayCount{}
	}
	if out.EventsPerTopicPerHour == nil {
		out.EventsPerTopicPerHour = []TopicHour{}
	}
	return out, nil
}

// UserActivity returns the events user caused per UTC day over the last
// days days, oldest first, to the user and to admins; anyone else gets
// ErrNotFound.
func (s *Service) UserActivity(ctx context.Context, caller auth.Principal, user id.UserID, days int) ([]DayCount, error) {
	if caller.UserID != user && !caller.IsAdmin() {
		return nil, ErrNotFound
	}
	if days < 1 || days > s.cfg.MaxDays {
		return nil, fmt.Errorf("analytics: days must be 1..%d", s.cfg.MaxDays)
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT day::text, events FROM analytics_user_days
		WHERE user_id = $1 AND day > $2::date - $3::int AND day <= $2::date ORDER BY day`,
		user.String(), s.cfg.Now().UTC().Format(time.DateOnly), days)
	if err != nil {
		return nil, fmt.Errorf("analytics: user activity: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DayCount, error) {
		var d DayCount
		return d, r.Scan(&d.Day, &d.Count)
	})
	if err != nil {
		return nil, fmt.Errorf("analytics: user activity: %w", err)
	}
	if out == nil {
		out = []DayCount{}
	}
	return out, nil
}
