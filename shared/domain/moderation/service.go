package moderation

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
)

// Config holds the Service's dependencies.
type Config struct {
	Pool   *pgxpool.Pool
	Outbox *outbox.Outbox
	Logger *slog.Logger
	// Page bounds the queue's page size (default 20, at most 100).
	Page httpapi.PageConfig
	// MaxNoteRunes bounds a reviewer's reason. Default 500.
	MaxNoteRunes int
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Page = c.Page.Defaults()
	if c.MaxNoteRunes == 0 {
		c.MaxNoteRunes = 500
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
	if c.MaxNoteRunes < 1 {
		errs = append(errs, fmt.Errorf("max note runes %d must be positive", c.MaxNoteRunes))
	}
	errs = append(errs, c.Page.Validate())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("moderation config: %w", err)
	}
	return nil
}

// Service serves the review endpoints.
type Service struct {
	cfg   Config
	store *Store
}

// New returns a Service; cfg gets its defaults first.
func New(cfg Config) (*Service, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := NewStore(cfg.Pool, cfg.Outbox)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, store: st}, nil
}

// Store returns the service's store.
func (s *Service) Store() *Store { return s.store }

// Mount registers the review endpoints on mux, behind authed (the
// bearer-token middleware) and the admin role:
//
//	GET  /v1/moderation/queue                      ?limit=&cursor= → 200 {items, next_cursor}
//	POST /v1/moderation/queue/{post_id}/decision   {"action","reason"} → 200 decision
func (s *Service) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	admin := httpapi.RequireRole(auth.RoleAdmin, s.cfg.Logger)
	h := func(fn httpapi.HandlerFunc) http.Handler { return authed(admin(httpapi.Handle(s.cfg.Logger, fn))) }
	mux.Handle("GET /v1/moderation/queue", h(s.handleQueue))
	mux.Handle("POST /v1/moderation/queue/{post_id}/decision", h(s.handleDecide))
}

func (s *Service) handleQueue(w http.ResponseWriter, r *http.Request) error {
	page, err := httpapi.ParsePage[position](r, s.cfg.Page)
	if err != nil {
		return err
	}
	var after *position
	if page.HasCursor {
		after = &page.Cursor
	}
	// One more than asked tells whether a next page exists.
	items, err := s.store.Queue(r.Context(), after, page.Limit+1)
	if err != nil {
		return err
	}
	next := ""
	if len(items) > page.Limit {
		items = items[:page.Limit]
		last := items[len(items)-1]
		if next, err = httpapi.EncodeCursor(position{QueuedAt: last.QueuedAt, PostID: last.PostID}); err != nil {
			return err
		}
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, httpapi.NewPage(items, next))
	return nil
}

type decisionRequest struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// DecisionJSON is a decision as the API shows it.
type DecisionJSON struct {
	DecisionID string   `json:"decision_id"`
	PostID     string   `json:"post_id"`
	AuthorID   string   `json:"author_id"`
	Action     string   `json:"action"`
	Reasons    []Reason `json:"reasons"`
	DecidedBy  string   `json:"decided_by"`
	ContentAt  string   `json:"content_at"`
	DecidedAt  string   `json:"decided_at"`
}

func (s *Service) handleDecide(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.FromContext(r.Context())
	postID := r.PathValue("post_id")
	if _, err := uuid.Parse(postID); err != nil {
		return httpapi.NotFound("no such post in the review queue")
	}
	var req decisionRequest
	if err := httpapi.DecodeJSON(w, r, &req, 16<<10); err != nil {
		return err
	}
	action, ok := map[string]eventsv1.ModerationAction{
		"allow":  eventsv1.ModerationAction_MODERATION_ACTION_ALLOW,
		"remove": eventsv1.ModerationAction_MODERATION_ACTION_REMOVE,
		"hide":   eventsv1.ModerationAction_MODERATION_ACTION_HIDE,
	}[strings.ToLower(req.Action)]
	if !ok {
		return httpapi.Invalid(`action must be "allow", "remove" or "hide"`)
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if action != eventsv1.ModerationAction_MODERATION_ACTION_ALLOW && req.Reason == "" {
		return httpapi.Invalid("reason is required to hide or remove a post: its author is shown it")
	}
	if n := len([]rune(req.Reason)); n > s.cfg.MaxNoteRunes {
		return httpapi.Invalid(fmt.Sprintf("reason is %d characters, at most %d", n, s.cfg.MaxNoteRunes))
	}
	d, err := s.store.Decide(r.Context(), postID, p.UserID.String(), action, req.Reason)
	if errors.Is(err, ErrNotQueued) {
		return httpapi.NotFound("no such post in the review queue")
	}
	if err != nil {
		return err
	}
	reasons := make([]Reason, 0, len(d.GetReasons()))
	for _, r := range d.GetReasons() {
		reasons = append(reasons, Reason{Code: r.GetCode(), Detail: r.GetDetail()})
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, DecisionJSON{
		DecisionID: d.GetDecisionId(), PostID: d.GetPostId(), AuthorID: d.GetAuthorId(), Action: actionName(d.GetAction()),
		Reasons: reasons, DecidedBy: d.GetDecidedBy(),
		ContentAt: d.GetContentAt().AsTime().Format("2006-01-02T15:04:05.999999Z07:00"),
		DecidedAt: d.GetDecidedAt().AsTime().Format("2006-01-02T15:04:05.999999Z07:00"),
	})
	return nil
}

// actionName is an action as the API writes it: "allow", "flag", "remove",
// "hide".
func actionName(a eventsv1.ModerationAction) string {
	return strings.ToLower(strings.TrimPrefix(a.String(), "MODERATION_ACTION_"))
}
