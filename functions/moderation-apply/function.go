// Package function is the moderation-apply Knative function
// (content-service's consumer of trust-safety-events). It applies each
// ModerationDecision to the post with content.Service.Moderate — HIDE hides
// it with the reasons shown to its author, REMOVE deletes it, ALLOW
// restores a hidden one, FLAG changes nothing (the post waits in the review
// queue) — and the PostUpdated or PostDeleted that makes feeds and search
// drop the post is written in the same transaction; the function's outbox
// relay publishes it to content-events. A decision about an older version
// of the post than its current one is ignored, and applying a decision
// twice changes nothing, so redelivery is harmless.
//
// kn func builds it with a scaffold whose main calls
// knative.dev/func-go/cloudevents.Start(New()).
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/content"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/kafka"
	"github.com/nova-social/nova/shared/moderation"
	"github.com/nova-social/nova/shared/outbox"
)

// ModerationApply is the function instance.
type ModerationApply struct {
	log   *slog.Logger
	codec *envelope.Codec

	mu      sync.RWMutex
	backend *outbox.Backend
	content *content.Service
}

// New returns an unstarted instance.
func New() *ModerationApply {
	return &ModerationApply{
		log:   slog.Default().With("function", catalog.ModerationApply),
		codec: envelope.NewCodec(catalog.Default()),
	}
}

var errNotStarted = errors.New("moderation-apply: not started")

// noFollows is the follow graph of a content service that only moderates:
// Moderate never asks who follows whom.
type noFollows struct{}

func (noFollows) Follows(context.Context, id.UserID, id.UserID) (bool, error) {
	return false, errors.New("moderation-apply: the follow graph is not available here")
}

// Start connects to PostgreSQL and Kafka, applies the content and outbox
// migrations and starts the outbox relay.
func (f *ModerationApply) Start(ctx context.Context, env map[string]string) error {
	b, err := outbox.OpenBackend(ctx, outbox.BackendConfig{
		Name: catalog.ModerationApply, DatabaseURL: env["DATABASE_URL"], Brokers: kafka.ParseBrokers(env["KAFKA_BROKERS"]),
		Migrations: []func(context.Context, *pgxpool.Pool) error{content.Migrate}, Logger: f.log,
	})
	if err != nil {
		return err
	}
	svc, err := content.New(content.Config{Pool: b.Pool, Outbox: outbox.New(f.codec), Follows: noFollows{}, Logger: f.log})
	if err != nil {
		return errors.Join(err, b.Close(ctx))
	}
	f.mu.Lock()
	f.backend, f.content = b, svc
	f.mu.Unlock()
	return nil
}

// Stop stops the relay (unsent rows wait in the outbox) and closes the
// connections.
func (f *ModerationApply) Stop(ctx context.Context) error {
	f.mu.Lock()
	b := f.backend
	f.backend, f.content = nil, nil
	f.mu.Unlock()
	if b == nil {
		return nil
	}
	return b.Close(ctx)
}

// Ready reports whether PostgreSQL answers.
func (f *ModerationApply) Ready(ctx context.Context) (bool, error) {
	f.mu.RLock()
	b := f.backend
	f.mu.RUnlock()
	if b == nil {
		return false, nil
	}
	if err := b.Ping(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// errBadDecision marks a decision that can never be applied.
var errBadDecision = errors.New("moderation-apply: decision cannot be applied")

// Handle applies one event. Its error is a protocol result: 4xx for a
// decision that can never be applied (dead-lettered at once), 5xx for one
// that may succeed on retry.
func (f *ModerationApply) Handle(ctx context.Context, e event.Event) error {
	f.mu.RLock()
	svc := f.content
	f.mu.RUnlock()
	if svc == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, f.codec, e, func(ctx context.Context, d envelope.Decoded) error {
		return f.apply(ctx, svc, d)
	}, f.log)
}

func (f *ModerationApply) apply(ctx context.Context, svc *content.Service, d envelope.Decoded) error {
	m, ok := d.Message.(*eventsv1.ModerationDecision)
	if !ok {
		return nil // another event of the topic; not ours
	}
	var action content.ModerationAction
	switch m.GetAction() {
	case eventsv1.ModerationAction_MODERATION_ACTION_HIDE:
		action = content.ModerationHide
	case eventsv1.ModerationAction_MODERATION_ACTION_REMOVE:
		action = content.ModerationRemove
	case eventsv1.ModerationAction_MODERATION_ACTION_ALLOW:
		action = content.ModerationAllow
	case eventsv1.ModerationAction_MODERATION_ACTION_FLAG:
		return nil // queued for review; the post stays as it is
	default:
		return delivery.Permanent(fmt.Errorf("%w: action %s", errBadDecision, m.GetAction()))
	}
	pid, err := id.ParsePostID(m.GetPostId())
	if err != nil || m.GetContentAt() == nil {
		return delivery.Permanent(fmt.Errorf("%w: post %q, content_at %v", errBadDecision, m.GetPostId(), m.GetContentAt()))
	}
	decidedBy := m.GetDecidedBy()
	if decidedBy == "" {
		decidedBy = content.DecidedByRules
	}
	out, err := svc.Moderate(ctx, content.Moderation{
		PostID: pid, Action: action, Reason: moderation.ReasonText(m.GetReasons()),
		DecidedBy: decidedBy, ContentAt: m.GetContentAt().AsTime(),
	})
	if errors.Is(err, content.ErrInvalid) {
		return delivery.Permanent(fmt.Errorf("%w: %w", errBadDecision, err))
	}
	if err != nil {
		return err
	}
	f.log.InfoContext(ctx, "decision applied", "post", pid, "action", action, "decided_by", decidedBy, "outcome", out)
	return nil
}
