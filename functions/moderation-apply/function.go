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
// knative.dev/func-go/http.Start(New()) (func.yaml invoke: http; see
// shared/event/eventfunc for why).
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/moderation"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/lifecycle"
	"github.com/nova-social/nova/shared/postgres"
)

// ModerationApply is the function instance.
type ModerationApply struct {
	*eventfunc.Function[*unit]
}

// New returns an unstarted instance.
func New() *ModerationApply {
	return &ModerationApply{eventfunc.New(catalog.ModerationApply, setup)}
}

// noFollows is the follow graph of a content service that only moderates:
// Moderate never asks who follows whom.
type noFollows struct{}

func (noFollows) Follows(context.Context, id.UserID, id.UserID) (bool, error) {
	return false, errors.New("moderation-apply: the follow graph is not available here")
}

// setup reads DATABASE_URL (and PGPASSWORD) and KAFKA_BROKERS; opening
// connects, applies the content and outbox migrations and starts the
// outbox relay.
func setup(env map[string]string, log *slog.Logger) (lifecycle.Open[*unit], error) {
	// The decisions remove posts from content-events, which an operator
	// may rename (KAFKA_TOPIC_CONTENT_EVENTS).
	cat, err := catalog.FromEnv(env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", catalog.ModerationApply, err)
	}
	cfg := outbox.BackendConfig{
		Name: catalog.ModerationApply, Database: postgres.FromEnv(env), Brokers: kafka.ParseBrokers(env["KAFKA_BROKERS"]), Kafka: kafka.SecurityFromEnv(env),
		Topics:     cat.WrittenBy(catalog.ModerationApply),
		Migrations: []func(context.Context, *pgxpool.Pool) error{content.Migrate}, Logger: log,
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	codec := envelope.NewCodec(cat).ForConsumer(catalog.ModerationApply)
	return func(ctx context.Context) (*unit, error) {
		b, err := outbox.OpenBackend(ctx, cfg)
		if err != nil {
			return nil, err
		}
		svc, err := content.New(content.Config{Pool: b.Pool, Outbox: b.Outbox(codec), Follows: noFollows{}, Logger: log})
		if err != nil {
			return nil, errors.Join(err, b.Close(ctx))
		}
		return &unit{Backend: b, codec: codec, content: svc, log: log}, nil
	}, nil
}

// unit is the function's PostgreSQL with its relay (Ping, Close) and the
// content service applying decisions to it.
type unit struct {
	*outbox.Backend
	codec   *envelope.Codec
	content *content.Service
	log     *slog.Logger
}

// errBadDecision marks a decision that can never be applied.
var errBadDecision = errors.New("moderation-apply: decision cannot be applied")

// Receive applies one decision. One that can never be applied is a
// permanent failure, dead-lettered at once.
func (u *unit) Receive(ctx context.Context, e event.Event) error {
	return delivery.Apply(ctx, u.codec, e, u.apply)
}

func (u *unit) apply(ctx context.Context, d envelope.Decoded) error {
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
	out, err := u.content.Moderate(ctx, content.Moderation{
		PostID: pid, Action: action, Reason: moderation.ReasonText(m.GetReasons()),
		DecidedBy: decidedBy, ContentAt: m.GetContentAt().AsTime(),
	})
	if errors.Is(err, content.ErrInvalid) {
		return delivery.Permanent(fmt.Errorf("%w: %w", errBadDecision, err))
	}
	if err != nil {
		return err
	}
	u.log.InfoContext(ctx, "decision applied", "post", pid, "action", action, "decided_by", decidedBy, "outcome", out)
	return nil
}
