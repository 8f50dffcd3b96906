// Package function is the chat-push Knative function (realtime-chat-service's
// consumer of messaging-events). Handle decodes the event and hands it to
// package chatpush, which does the work.
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
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/functions/chat-push/chatpush"
	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/delivery"
	"github.com/nova-social/nova/shared/envelope"
	"github.com/nova-social/nova/shared/presence"
	"github.com/nova-social/nova/shared/push"
)

// ChatPush is the function instance.
type ChatPush struct {
	log   *slog.Logger
	codec *envelope.Codec

	mu      sync.RWMutex
	rdb     *redis.Client
	reactor *chatpush.Reactor
}

// New returns an unstarted instance.
func New() *ChatPush {
	return &ChatPush{
		log:   slog.Default().With("function", catalog.ChatPush),
		codec: envelope.NewCodec(catalog.Default()),
	}
}

var errNotStarted = errors.New("chat-push: not started")

// Start connects to Redis.
func (f *ChatPush) Start(_ context.Context, env map[string]string) error {
	url := env["REDIS_URL"]
	if url == "" {
		return errors.New("chat-push: REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("chat-push: REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	ps, err := presence.New(rdb, presence.DefaultConfig())
	if err != nil {
		rdb.Close()
		return err
	}
	p, err := push.NewPusher(rdb, ps)
	if err != nil {
		rdb.Close()
		return err
	}
	f.mu.Lock()
	f.rdb, f.reactor = rdb, chatpush.NewReactor(p, f.log)
	f.mu.Unlock()
	return nil
}

// Stop closes the connection.
func (f *ChatPush) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if f.rdb != nil {
		err = f.rdb.Close()
	}
	f.rdb, f.reactor = nil, nil
	return err
}

// Ready reports whether Redis answers.
func (f *ChatPush) Ready(ctx context.Context) (bool, error) {
	f.mu.RLock()
	rdb := f.rdb
	f.mu.RUnlock()
	if rdb == nil {
		return false, nil
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return false, fmt.Errorf("chat-push: redis: %w", err)
	}
	return true, nil
}

// Handle pushes one event. Its error is a protocol result: 4xx for an event
// that can never be pushed (dead-lettered at once), 5xx for one that may
// succeed on retry.
func (f *ChatPush) Handle(ctx context.Context, e event.Event) error {
	f.mu.RLock()
	r := f.reactor
	f.mu.RUnlock()
	if r == nil {
		return delivery.Result(errNotStarted)
	}
	return delivery.Handle(ctx, f.codec, e, r.React, f.log)
}
