// Package catalog is the one list of Nova's Kafka topics and event types.
//
// The producer, the envelope codec, the local runtime and the manifests in
// eventing/ are all checked against it, so a topic or an event is added here
// first and everything else follows.
package catalog

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
)

// Topic is a Kafka topic and its sizing.
type Topic struct {
	Name        string
	Partitions  int32
	Replication int16
	// Purpose is the design document's one-line description.
	Purpose string
	// PlainRecordsFor are the functions that take plain records (not
	// CloudEvents) from this topic, as KafkaSource wraps them: only where
	// the design document's console-producer test writes them
	// (kafka-console-producer to content-events, checked in feed-service;
	// content-sync takes them too, so such a post exists in content as in
	// the feeds). Every other consumer refuses them.
	PlainRecordsFor []string
	// Writers are the functions that publish to this topic, through their
	// outbox relay or their emitter. Each one's Kafka user may write the
	// topic and no other function's may (eventing/users/), and an outbox
	// relay publishes only the rows of its function's topics, so a
	// function's Kafka login cannot be used to write a topic it does not
	// own.
	Writers []string
}

// WrittenBy returns the topics fn publishes to, in catalogue order.
func (c *Catalog) WrittenBy(fn string) []string {
	var out []string
	for _, t := range c.topics {
		if slices.Contains(t.Writers, fn) {
			out = append(out, t.Name)
		}
	}
	return out
}

// TakesPlainRecords reports whether consumer takes plain records from topic.
func (c *Catalog) TakesPlainRecords(topic, consumer string) bool {
	t, ok := c.Topic(topic)
	return ok && slices.Contains(t.PlainRecordsFor, consumer)
}

// Service names, as the design document spells them. An event's CloudEvents
// source is "/nova/" + its producing service.
const (
	ContentService      = "content-service"
	MediaService        = "media-service"
	IdentityService     = "identity-service"
	MessagingService    = "messaging-service"
	NotificationService = "notification-service"
	FeedService         = "feed-service"
	RankingService      = "ranking-service"
	TrustSafetyService  = "trust-safety-service"
	RealtimeChatService = "realtime-chat-service"
	AnalyticsService    = "analytics-service"
	SearchService       = "search-service"
)

// Topic names.
const (
	ContentEvents      = "content-events"
	MediaEvents        = "media-events"
	UserEvents         = "user-events"
	MessagingEvents    = "messaging-events"
	NotificationEvents = "notification-events"
	AnalyticsEvents    = "analytics-events"
	FeedUpdates        = "feed-updates"
	RankingUpdates     = "ranking-updates"
	TrustSafetyEvents  = "trust-safety-events"
	RealtimeChat       = "realtime-chat"
)

// EventType is one kind of CloudEvent Nova emits.
type EventType struct {
	// Type is the CloudEvents type, com.nova.<domain>.<entity>.<verb>.
	Type string
	// Message is an empty value of the protobuf message the event carries.
	Message proto.Message
	// Topic is where the event is produced.
	Topic string
	// KeyField is the message field whose value is the Kafka key and the
	// CloudEvents partitionkey.
	KeyField protoreflect.Name
	// SubjectField is the message field whose value is the CloudEvents subject.
	SubjectField protoreflect.Name
	// Producer is the service that emits the event; the CloudEvents source is
	// "/nova/" + Producer.
	Producer string
	// Consumers are the functions that react to the event.
	Consumers []string
}

// Source is the CloudEvents source attribute of the event.
func (e EventType) Source() string { return "/nova/" + e.Producer }

// MessageName is the protobuf full name of the event's message.
func (e EventType) MessageName() protoreflect.FullName {
	return e.Message.ProtoReflect().Descriptor().FullName()
}

// DataSchema is the CloudEvents dataschema attribute: the message's type
// URL (type.googleapis.com/nova.events.v1.PostCreated) written as the
// absolute URI CloudEvents requires; sdk-go rejects a dataschema without a
// scheme, so receivers would answer 400.
func (e EventType) DataSchema() string {
	return "https://type.googleapis.com/" + string(e.MessageName())
}

// Catalog is the set of topics and event types. It is immutable once built.
type Catalog struct {
	topics  []Topic
	events  []EventType
	byType  map[string]EventType
	byMsg   map[protoreflect.FullName]EventType
	byTopic map[string]Topic
}

// Default returns Nova's catalogue: the ten topics of the design document and
// every event type.
func Default() *Catalog {
	c, err := New(defaultTopics(), defaultEvents())
	if err != nil {
		// The default catalogue is static; an error is a programming mistake
		// that the package's tests catch.
		panic(fmt.Sprintf("catalog: default catalogue is invalid: %v", err))
	}
	return c
}

// New builds a catalogue and checks that it is consistent: unique names,
// events on known topics, key and subject fields that exist as strings.
func New(topics []Topic, events []EventType) (*Catalog, error) {
	c := &Catalog{
		topics:  topics,
		events:  events,
		byType:  make(map[string]EventType, len(events)),
		byMsg:   make(map[protoreflect.FullName]EventType, len(events)),
		byTopic: make(map[string]Topic, len(topics)),
	}
	for _, t := range topics {
		if t.Name == "" || t.Partitions < 1 || t.Replication < 1 {
			return nil, fmt.Errorf("topic %q: name, partitions and replication are required", t.Name)
		}
		if _, dup := c.byTopic[t.Name]; dup {
			return nil, fmt.Errorf("topic %q listed twice", t.Name)
		}
		c.byTopic[t.Name] = t
	}
	for _, e := range events {
		if _, ok := c.byTopic[e.Topic]; !ok {
			return nil, fmt.Errorf("event %q: unknown topic %q", e.Type, e.Topic)
		}
		if _, dup := c.byType[e.Type]; dup {
			return nil, fmt.Errorf("event %q listed twice", e.Type)
		}
		if _, dup := c.byMsg[e.MessageName()]; dup {
			return nil, fmt.Errorf("message %q carried by two event types", e.MessageName())
		}
		for _, f := range []protoreflect.Name{e.KeyField, e.SubjectField} {
			fd := e.Message.ProtoReflect().Descriptor().Fields().ByName(f)
			if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
				return nil, fmt.Errorf("event %q: %q is not a string field of %s", e.Type, f, e.MessageName())
			}
		}
		c.byType[e.Type] = e
		c.byMsg[e.MessageName()] = e
	}
	return c, nil
}

// Topics returns the topics in the design document's order.
func (c *Catalog) Topics() []Topic { return append([]Topic(nil), c.topics...) }

// Events returns every event type.
func (c *Catalog) Events() []EventType { return append([]EventType(nil), c.events...) }

// Topic looks a topic up by name.
func (c *Catalog) Topic(name string) (Topic, bool) {
	t, ok := c.byTopic[name]
	return t, ok
}

// ByType looks an event type up by its CloudEvents type.
func (c *Catalog) ByType(ceType string) (EventType, bool) {
	e, ok := c.byType[ceType]
	return e, ok
}

// ByMessage looks an event type up by the message it carries.
func (c *Catalog) ByMessage(m proto.Message) (EventType, bool) {
	e, ok := c.byMsg[m.ProtoReflect().Descriptor().FullName()]
	return e, ok
}

// Key returns the value of the event's key field in m, the Kafka key and
// CloudEvents partitionkey.
func (e EventType) Key(m proto.Message) string { return stringField(m, e.KeyField) }

// Subject returns the value of the event's subject field in m.
func (e EventType) Subject(m proto.Message) string { return stringField(m, e.SubjectField) }

func stringField(m proto.Message, name protoreflect.Name) string {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(name)
	if fd == nil {
		return ""
	}
	return r.Get(fd).String()
}

func defaultTopics() []Topic {
	return []Topic{
		// nova-api writes posts; media-attach attaches processed media to
		// them and moderation-apply removes them (PostUpdated, PostDeleted);
		// content-sync withdraws (PostDeleted) what reached the topic
		// without content and content would not have accepted. Plain
		// records go to feed-fanout, the design document's console-producer
		// test, and to content-sync, so they become posts in content too.
		{ContentEvents, 6, 1, "content lifecycle events", []string{FeedFanout, ContentSync}, []string{NovaAPI, MediaAttach, ModerationApply, ContentSync}},
		{MediaEvents, 3, 1, "media upload events", nil, []string{NovaAPI}},
		{UserEvents, 3, 1, "user lifecycle events", nil, []string{NovaAPI}},
		// Messages sent over REST (nova-api) and over the websocket
		// (chat-persist, from realtime-chat).
		{MessagingEvents, 3, 1, "messaging events", nil, []string{NovaAPI, ChatPersist}},
		{NotificationEvents, 2, 1, "notification events", nil, []string{Notifier}},
		{AnalyticsEvents, 6, 1, "analytics events", nil, []string{NovaAPI}},
		{FeedUpdates, 3, 1, "feed update events", nil, []string{FeedFanout}},
		{RankingUpdates, 3, 1, "ranking update events", nil, []string{Ranking}},
		// Automatic decisions (trust-safety) and moderators' (nova-api).
		{TrustSafetyEvents, 3, 1, "content moderation events", nil, []string{NovaAPI, TrustSafety}},
		{RealtimeChat, 3, 1, "realtime chat events", nil, []string{RealtimeGateway}},
	}
}

// Function names, as in functions/ and eventing/.
const (
	FeedFanout      = "feed-fanout"
	SearchIndexer   = "search-indexer"
	Analytics       = "analytics"
	Ranking         = "ranking"
	TrustSafety     = "trust-safety"
	ModerationApply = "moderation-apply"
	ContentSync     = "content-sync"
	MediaAttach     = "media-attach"
	Notifier        = "notifier"
	ChatPush        = "chat-push"
	ChatPersist     = "chat-persist"
	DeadLetter      = "dead-letter"
	NovaAPI         = "nova-api"
	RealtimeGateway = "realtime-gateway"
)

func defaultEvents() []EventType {
	return []EventType{
		{"com.nova.content.post.created", &eventsv1.PostCreated{}, ContentEvents, "user_id", "post_id", ContentService,
			[]string{FeedFanout, SearchIndexer, Analytics, TrustSafety, Ranking, ContentSync}},
		{"com.nova.content.post.updated", &eventsv1.PostUpdated{}, ContentEvents, "user_id", "post_id", ContentService,
			[]string{FeedFanout, SearchIndexer, Analytics, TrustSafety, Ranking, ContentSync}},
		{"com.nova.content.post.deleted", &eventsv1.PostDeleted{}, ContentEvents, "user_id", "post_id", ContentService,
			[]string{FeedFanout, SearchIndexer, Analytics, TrustSafety, Ranking, ContentSync}},
		{"com.nova.media.media.uploaded", &eventsv1.MediaUploaded{}, MediaEvents, "user_id", "media_id", MediaService,
			[]string{MediaAttach}},
		{"com.nova.identity.user.registered", &eventsv1.UserRegistered{}, UserEvents, "user_id", "user_id", IdentityService,
			[]string{Analytics, Ranking, FeedFanout, SearchIndexer}},
		{"com.nova.identity.user.profile_updated", &eventsv1.UserProfileUpdated{}, UserEvents, "user_id", "user_id", IdentityService,
			[]string{Analytics, Ranking, FeedFanout, SearchIndexer}},
		{"com.nova.identity.user.followed", &eventsv1.UserFollowed{}, UserEvents, "follower_id", "followee_id", IdentityService,
			[]string{Analytics, Ranking, FeedFanout, SearchIndexer, Notifier}},
		{"com.nova.identity.user.unfollowed", &eventsv1.UserUnfollowed{}, UserEvents, "follower_id", "followee_id", IdentityService,
			[]string{Analytics, Ranking, FeedFanout, SearchIndexer}},
		{"com.nova.identity.user.role_changed", &eventsv1.UserRoleChanged{}, UserEvents, "user_id", "user_id", IdentityService,
			nil},
		{"com.nova.identity.user.deleted", &eventsv1.UserDeleted{}, UserEvents, "user_id", "user_id", IdentityService,
			[]string{FeedFanout, SearchIndexer, Analytics, Notifier, TrustSafety}},
		{"com.nova.messaging.message.sent", &eventsv1.MessageSent{}, MessagingEvents, "conversation_id", "conversation_id", MessagingService,
			[]string{ChatPush, Notifier}},
		{"com.nova.notification.notification.created", &eventsv1.NotificationCreated{}, NotificationEvents, "recipient_id", "notification_id", NotificationService,
			nil},
		{"com.nova.analytics.engagement.recorded", &eventsv1.Engagement{}, AnalyticsEvents, "post_id", "post_id", ContentService,
			[]string{Analytics, Ranking, Notifier}},
		{"com.nova.feed.feed.updated", &eventsv1.FeedUpdated{}, FeedUpdates, "post_id", "post_id", FeedService,
			nil},
		{"com.nova.ranking.score.updated", &eventsv1.PostScoreUpdated{}, RankingUpdates, "post_id", "post_id", RankingService,
			[]string{FeedFanout}},
		{"com.nova.trustsafety.moderation.decided", &eventsv1.ModerationDecision{}, TrustSafetyEvents, "post_id", "post_id", TrustSafetyService,
			[]string{ModerationApply}},
		{"com.nova.chat.message.submitted", &eventsv1.ChatMessageSubmitted{}, RealtimeChat, "conversation_id", "conversation_id", RealtimeChatService,
			[]string{ChatPersist}},
	}
}

// TopicEnv maps the design document's topic-name variables to the topics
// they rename.
var TopicEnv = map[string]string{
	"KAFKA_TOPIC_CONTENT_EVENTS": ContentEvents,
}

// WithTopicNames returns a copy of the catalogue in which the topics named
// by the keys of names are called by their values instead, with every event
// of those topics following them. The design document lets an operator name
// content-events differently (KAFKA_TOPIC_CONTENT_EVENTS).
func (c *Catalog) WithTopicNames(names map[string]string) (*Catalog, error) {
	topics := c.Topics()
	for i, t := range topics {
		if n, ok := names[t.Name]; ok && n != "" {
			topics[i].Name = n
		}
	}
	events := c.Events()
	for i, e := range events {
		if n, ok := names[e.Topic]; ok && n != "" {
			events[i].Topic = n
		}
	}
	for from := range names {
		if _, ok := c.byTopic[from]; !ok {
			return nil, fmt.Errorf("catalog: no topic %q to rename", from)
		}
	}
	return New(topics, events)
}

// FromEnv returns the default catalogue with the topic names the
// environment sets (TopicEnv).
func FromEnv(env map[string]string) (*Catalog, error) {
	names := map[string]string{}
	for k, topic := range TopicEnv {
		if v := env[k]; v != "" {
			names[topic] = v
		}
	}
	if len(names) == 0 {
		return Default(), nil
	}
	return Default().WithTopicNames(names)
}
