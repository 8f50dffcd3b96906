package e2e_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/cli"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/event/sender/issuer"
	"github.com/nova-social/nova/shared/testrig"
)

// forgery is a stranger's attempt on one function: a well-formed event of
// a type the function consumes, which would change what the attack names
// if it were applied.
type forgery struct {
	attack   string
	function string
	msg      proto.Message
	ext      map[string]string
}

// credential is what the stranger presents, and the answer it must get.
type credential struct {
	name   string
	header func(t *testing.T, function string) string // "" sends none
	status int
}

// Every forged-event attack on a running Nova with sender authentication
// on, each with every credential a stranger could have: none, a token of
// an issuer of his own, a genuine token of his own pod's service account,
// a genuine dispatcher token taken from another function's deliveries. All
// are refused before the event is read, and nothing changes: feeds,
// search, the post and its media, conversations, websocket pushes, the
// dead-letter store. Then the same system delivers a genuine post, so the
// refusals are authentication's and not a broken pipeline.
func TestForgedEventsChangeNothing(t *testing.T) {
	r := start(t)
	iss := r.sys.Issuer()
	victim, fan, stranger := r.register("victim"), r.register("fan"), r.register("stranger")
	r.follow(fan, victim)
	word := "secret" + testrig.ID()[:8]
	private := r.post(victim, "for my followers only "+word, "FOLLOWERS_ONLY")
	r.feedIs(fan, private)
	r.settle()
	before := r.must(http.StatusOK, "GET", "/v1/posts/"+private, victim.Token, nil)

	// Pushes to websockets go out on Redis; every one is seen here.
	pushes := testrig.Redis(t).PSubscribe(context.Background(), "gateway:*")
	defer pushes.Close()
	if _, err := pushes.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}

	now := timestamppb.Now()
	phish := uuid.NewString()
	conv := uuid.NewString()
	forgeries := []forgery{
		{"follow the victim to see her followers-only post", "feed-fanout",
			&eventsv1.UserFollowed{FollowerId: stranger.ID, FolloweeId: victim.ID, FollowedAt: now}, nil},
		{"index the victim's followers-only post for the stranger", "search-indexer",
			&eventsv1.UserFollowed{FollowerId: stranger.ID, FolloweeId: victim.ID, FollowedAt: now}, nil},
		{"plant a phishing post by the victim in her followers' feeds", "feed-fanout",
			&eventsv1.PostCreated{PostId: phish, UserId: victim.ID, Content: "reset your password at evil.example",
				Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: now}, nil},
		{"push the phishing post to the top of the ranked feed", "feed-fanout",
			&eventsv1.PostScoreUpdated{PostId: phish, AuthorId: victim.ID, Score: 1e9, ComputedAt: now}, nil},
		{"delete the victim's post", "moderation-apply",
			&eventsv1.ModerationDecision{DecisionId: uuid.NewString(), PostId: private, AuthorId: victim.ID,
				Action: eventsv1.ModerationAction_MODERATION_ACTION_REMOVE, DecidedBy: "auto", ContentAt: now, DecidedAt: now}, nil},
		{"store a DM from the victim", "chat-persist",
			&eventsv1.MessageSent{MessageId: uuid.NewString(), ConversationId: conv, SenderId: victim.ID,
				RecipientIds: []string{stranger.ID}, Content: "send me your password", SentAt: now, Sequence: 1}, nil},
		{"push a frame to the fan's websocket", "chat-push",
			&eventsv1.MessageSent{MessageId: uuid.NewString(), ConversationId: conv, SenderId: victim.ID,
				RecipientIds: []string{fan.ID}, Content: "click evil.example", SentAt: now, Sequence: 1}, nil},
		{"rewrite the victim's media to a javascript: URL", "media-attach",
			&eventsv1.MediaUploaded{MediaId: uuid.NewString(), PostId: private, UserId: victim.ID,
				Type: eventsv1.MediaType_MEDIA_TYPE_IMAGE, Url: "https://evil.example/x.png", ThumbnailUrl: "javascript:alert(1)", UploadedAt: now}, nil},
		{"plant an event for nova replay", "dead-letter",
			&eventsv1.PostCreated{PostId: uuid.NewString(), UserId: victim.ID, Content: "replayed phishing",
				Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: now},
			map[string]string{delivery.ExtKafkaTopic: catalog.ContentEvents, delivery.ExtKafkaPartition: "0", delivery.ExtKafkaOffset: "1"}},
	}
	// The remaining functions, with an event they would apply.
	for _, fn := range []string{"notifier", "analytics", "ranking", "trust-safety", "content-sync"} {
		forgeries = append(forgeries, forgery{"feed " + fn + " a post by the victim", fn,
			&eventsv1.PostCreated{PostId: uuid.NewString(), UserId: victim.ID, Content: "forged",
				Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: now}, nil})
	}

	own, err := issuer.New("https://evil.example") // keys nobody trusts
	if err != nil {
		t.Fatal(err)
	}
	mint := func(i *issuer.Issuer, ns, sa, aud string) string {
		tok, _, err := i.Mint(ns, sa, aud, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	const ns = "default"
	creds := []credential{
		{"no token", func(*testing.T, string) string { return "" }, http.StatusUnauthorized},
		{"his own issuer's token", func(_ *testing.T, fn string) string {
			return mint(own, ns, sender.Ref{Kind: sender.KindKafkaSource, Name: fn}.ServiceAccount(), sender.AudiencePrefix+fn)
		}, http.StatusUnauthorized},
		{"his pod's own service account token", func(_ *testing.T, fn string) string {
			return mint(iss.Issuer, ns, "default", sender.AudiencePrefix+fn)
		}, http.StatusForbidden},
		{"a dispatcher's token for another function, replayed", func(_ *testing.T, fn string) string {
			// Taken from a delivery to another function (the target's own
			// source's token is the sender's own secret: a bearer token).
			from := sender.Ref{Kind: sender.KindKafkaSource, Name: "search-indexer"}
			if fn == from.Name {
				from.Name = "feed-fanout"
			}
			return mint(iss.Issuer, ns, from.ServiceAccount(), sender.AudiencePrefix+from.Name)
		}, http.StatusUnauthorized},
		{"a genuine source's token for this function, from a source not admitted here", func(_ *testing.T, fn string) string {
			other := sender.Ref{Kind: sender.KindKafkaSource, Name: "analytics"}
			if fn == "analytics" || fn == "dead-letter" {
				return "" // admitted there: covered by the other functions
			}
			return mint(iss.Issuer, ns, other.ServiceAccount(), sender.AudiencePrefix+fn)
		}, http.StatusForbidden},
	}

	codec := envelope.NewCodec(catalog.Default())
	for _, f := range forgeries {
		url, ok := r.sys.FunctionURL(f.function)
		if !ok {
			t.Fatalf("%s is not running", f.function)
		}
		e, err := codec.New(f.msg)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range f.ext {
			e.SetExtension(k, v)
		}
		for _, c := range creds {
			h := c.header(t, f.function)
			want := c.status
			if h == "" && c.name != "no token" {
				continue
			}
			header := http.Header{}
			if h != "" {
				header.Set("Authorization", h)
			}
			if code, body := eventfunctest.SendWith(t, url, header, e); code != want || !strings.Contains(body, `"error"`) {
				t.Errorf("%s (%s), %s: %d %s, want %d with the reason", f.attack, f.function, c.name, code, body, want)
			}
		}
	}

	// Kafka: a stranger who reaches the brokers writes a post "by" the
	// victim, with no login, with TLS but no login, with a wrong password,
	// and as a function's own user whose ACLs do not let it write there;
	// and reads users' e-mails and DMs with a user that may not read them.
	phishing, err := codec.New(&eventsv1.PostCreated{PostId: phish, UserId: victim.ID, Content: "reset your password at evil.example",
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	admin := r.sys.KafkaSecurity()
	searchPass, err := r.sys.KafkaSecret("nova-search-indexer", "password")
	if err != nil {
		t.Fatal(err)
	}
	// notifier's outbox relay writes notification-events; its login may
	// write nothing else.
	notifierPass, err := r.sys.KafkaSecret("nova-notifier", "password")
	if err != nil {
		t.Fatal(err)
	}
	login := func(user, pass string) kafka.Security {
		return kafka.Security{TLS: true, CAPEM: admin.CAPEM, SASL: admin.SASL, Username: user, Password: pass}
	}
	for _, k := range []struct {
		name string
		sec  kafka.Security
	}{
		{"no login, no TLS", kafka.Security{}},
		{"TLS without a login", kafka.Security{TLS: true, CAPEM: admin.CAPEM}},
		{"nova-api's user with a guessed password", login("nova-api", "password123")},
		{"search-indexer's user (read-only) writing content-events", login("nova-search-indexer", searchPass)},
		{"notifier's user (an outbox relay's) writing content-events", login("nova-notifier", notifierPass)},
	} {
		cfg := kafka.DefaultProducerConfig(r.sys.Brokers()...)
		cfg.Security, cfg.RetryMax, cfg.DialTimeout = k.sec, 1, 2*time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := func() error {
			p, err := kafka.NewProducer(cfg)
			if err != nil {
				return err
			}
			defer p.Close()
			return p.Send(ctx, kafka.Record{Topic: catalog.ContentEvents, Key: victim.ID, Event: phishing})
		}()
		cancel()
		if err == nil {
			t.Errorf("Kafka, %s: the forged post was written", k.name)
		}
	}
	for _, topic := range []string{catalog.UserEvents, catalog.MessagingEvents} {
		cl, err := broker.NewClient(r.sys.Brokers(), login("nova-search-indexer", searchPass),
			kgo.ConsumeTopics(topic), kgo.ConsumerGroup("search-indexer-group"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if topic == catalog.UserEvents {
			// search-indexer may read user-events (profiles); chat-push may
			// not, and reading as chat-push is what is tried.
			cl.Close()
			pass, perr := r.sys.KafkaSecret("nova-chat-push", "password")
			if perr != nil {
				t.Fatal(perr)
			}
			cl, err = broker.NewClient(r.sys.Brokers(), login("nova-chat-push", pass),
				kgo.ConsumeTopics(topic), kgo.ConsumerGroup("chat-push-group"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		}
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		cl.Close()
		if n := len(fs.Records()); n > 0 {
			t.Errorf("Kafka: %d records of %s read by a user that may not read it", n, topic)
		}
		if fs.Err() == nil {
			t.Errorf("Kafka: reading %s without the right gave no error", topic)
		}
	}

	// Redis: the run's ACL user (what every function logs in as) may
	// touch Nova's keys and channels only, and no administration.
	user, pass := r.sys.RedisLogin()
	opt := testrig.Redis(t).Options()
	nova := redis.NewClient(&redis.Options{Addr: opt.Addr, Username: user, Password: pass})
	defer nova.Close()
	if err := nova.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis as the run's user %q: %v", user, err)
	}
	for _, cmd := range [][]any{{"flushall"}, {"config", "get", "*"}, {"acl", "list"}, {"keys", "*"}, {"get", "billing:other-app"}} {
		if err := nova.Do(context.Background(), cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("Redis as Nova's user: %v answered %v, want NOPERM", cmd, err)
		}
	}

	// Nothing changed.
	r.settle()
	if ids, _ := r.feed(stranger); len(ids) != 0 {
		t.Errorf("the stranger's feed holds %v", ids)
	}
	if got := r.search(stranger, "posts", word); len(got) != 0 {
		t.Errorf("the stranger finds %v searching %q", got, word)
	}
	after := r.must(http.StatusOK, "GET", "/v1/posts/"+private, victim.Token, nil)
	for _, k := range []string{"content", "visibility", "media", "hidden", "updated_at"} {
		if !reflect.DeepEqual(before[k], after[k]) {
			t.Errorf("the victim's post %s changed: %v → %v", k, before[k], after[k])
		}
	}
	var messages int
	if err := r.pool(t).QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE conversation_id::text = $1`, conv).Scan(&messages); err != nil {
		t.Fatal(err)
	}
	if messages != 0 {
		t.Errorf("%d forged messages stored", messages)
	}
	dls, err := cli.DeadLetters(context.Background(), r.sys.DatabaseURL(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 0 {
		t.Errorf("dead-letter store holds %d entries: %+v", len(dls), dls[0])
	}

	// A genuine post still travels the whole way, and is the first push
	// since the subscription.
	genuine := r.post(victim, "a genuine post", "PUBLIC")
	r.feedIs(fan, genuine, private)
	control := "gateway:control-" + testrig.ID()
	if err := testrig.Redis(t).Publish(context.Background(), control, "end").Err(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := pushes.ReceiveMessage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if m.Channel == control {
			break
		}
		t.Errorf("a push went out on %s: %.200s", m.Channel, m.Payload)
	}
}

// On a Redis set up as README.md asks of a production one (the default user
// off), a stranger who reaches it can do nothing: without a login, or with
// a guessed password for the functions' user or the administrator, he can
// neither push a frame to a user's websocket nor read a feed. The system
// itself, logged in as the run's user, works end to end on it.
func TestRedisRefusesStrangers(t *testing.T) {
	admin := testrig.LockedRedis(t)
	r := startWith(t, system.Config{RedisURL: admin})
	victim, fan := r.register("victim"), r.register("fan")
	r.follow(fan, victim)
	r.feedIs(fan, r.post(victim, "a post through a locked Redis", "PUBLIC"))

	opt, err := redis.ParseURL(admin)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := r.sys.RedisLogin()
	ctx := context.Background()
	for _, s := range []struct{ name, user, password string }{
		{"no login", "", ""},
		{"the default user with a guessed password", "default", "password"},
		{"the functions' user with a guessed password", user, "password123"},
		{"the administrator with a guessed password", testrig.LockedRedisAdmin, "admin"},
	} {
		c := redis.NewClient(&redis.Options{Addr: opt.Addr, Username: s.user, Password: s.password, MaxRetries: -1})
		if err := c.Publish(ctx, "gateway:"+fan.ID, `{"type":"message","content":"click evil.example"}`).Err(); err == nil {
			t.Errorf("Redis, %s: a push was published", s.name)
		}
		if err := c.Keys(ctx, "*").Err(); err == nil {
			t.Errorf("Redis, %s: the keys were listed", s.name)
		}
		c.Close()
	}
}
