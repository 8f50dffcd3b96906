// Package api assembles nova-api, the producer side of Nova, from its
// domains (identity, content, the feed reader) over one PostgreSQL pool,
// one Redis client and the transactional outbox. The root package function
// is the Knative function wrapping it; this package is plain Go that tests
// and the nova command build directly.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/api/openapi"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/analytics"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/media"
	"github.com/nova-social/nova/shared/domain/media/mediaurl"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/domain/moderation"
	"github.com/nova-social/nova/shared/domain/notification"
	"github.com/nova-social/nova/shared/domain/pendingmedia"
	"github.com/nova-social/nova/shared/domain/search"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/domain/timeline"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/mail"
	"github.com/nova-social/nova/shared/password"
	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/ratelimit"
	"github.com/nova-social/nova/shared/redisdb"
	"github.com/nova-social/nova/shared/telemetry"
)

// Server is an assembled nova-api.
type Server struct {
	cfg      Config
	log      *slog.Logger
	pool     *pgxpool.Pool
	rdb      *redis.Client
	producer *kafka.Producer
	relay    *outbox.Relay
	mail     *mail.Queue
	handler  http.Handler
	routes   []string
	tracing  *telemetry.Providers

	Identity *identity.Service
	Content  *content.Service
	// Media takes uploads (POST /v1/media) into object storage.
	Media *media.Service
	// Messaging holds conversations and messages; chat-persist stores
	// websocket messages through the same Send.
	Messaging *messaging.Service
	// Notifications is the inbox (GET /v1/notifications); the notifier
	// function fills it.
	Notifications *notification.Service
}

// New connects to the stores, applies every domain's migrations and builds
// the routes. Run starts the outbox relay; Close releases everything.
func New(ctx context.Context, cfg Config, log *slog.Logger) (s *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	s = &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.tracing, err = telemetry.Open(cfg.Tracing); err != nil {
		return s, fmt.Errorf("nova-api: %w", err)
	}
	if s.pool, err = postgres.Open(ctx, cfg.Database); err != nil {
		return s, fmt.Errorf("nova-api: %w", err)
	}
	// In a fixed order, so that every start, and every replica, applies
	// them the same way.
	for _, d := range []struct {
		name    string
		migrate func(context.Context, *pgxpool.Pool) error
	}{
		{"outbox", outbox.Migrate}, {"mail", mail.Migrate}, {"identity", identity.Migrate}, {"content", content.Migrate},
		{"media", media.Migrate}, {"moderation", moderation.Migrate}, {"notification", notification.Migrate},
		// Conversations and messages; chat-persist applies the same.
		{"messaging", messaging.Migrate},
		// Read here, written by the search-indexer and analytics functions.
		{"search", search.Migrate}, {"analytics", analytics.Migrate},
	} {
		if err := d.migrate(ctx, s.pool); err != nil {
			return s, fmt.Errorf("nova-api: %s migrations: %w", d.name, err)
		}
	}
	opt, err := cfg.Redis.Options()
	if err != nil {
		return s, fmt.Errorf("nova-api: %w", err)
	}
	s.rdb = redisdb.NewClient(opt)

	keys, err := cfg.Keys.SigningKeys()
	if err != nil {
		return s, fmt.Errorf("nova-api: %w", err)
	}
	signer, err := auth.NewSigner(keys, auth.SignerConfig{TTL: cfg.TokenTTL})
	if err != nil {
		return s, fmt.Errorf("nova-api: %w", err)
	}
	verifier, err := auth.NewVerifier(keys, auth.VerifierConfig{})
	if err != nil {
		return s, fmt.Errorf("nova-api: %w", err)
	}
	hasher, err := password.New(password.Config{})
	if err != nil {
		return s, fmt.Errorf("nova-api: %w", err)
	}

	// nova-api's relay publishes, and its Kafka user may write, only the
	// topics of the events it enqueues.
	topics := cfg.Catalog.WrittenBy(catalog.NovaAPI)
	ob := outbox.New(envelope.NewCodec(cfg.Catalog), topics...)
	var limiter *ratelimit.Limiter
	var guard identity.LoginGuard
	if cfg.RateLimits.Enabled {
		limiter = ratelimit.New(s.rdb, cfg.RateLimits.Namespace)
		guard = ratelimit.NewLoginGuard(limiter, s.rdb, cfg.RateLimits)
	}
	smtp, err := mail.NewSMTP(cfg.SMTP)
	if err != nil {
		return s, fmt.Errorf("nova-api: %w", err)
	}
	if s.mail, err = mail.NewQueue(mail.QueueConfig{Pool: s.pool, Sender: smtp, From: smtp.From(), Logger: log}); err != nil {
		return s, fmt.Errorf("nova-api: %w", err)
	}
	if s.Notifications, err = notification.New(notification.Config{Pool: s.pool, Outbox: ob, Logger: log}); err != nil {
		return s, err
	}
	if s.Identity, err = identity.New(identity.Config{Pool: s.pool, Outbox: ob, Signer: signer, Hasher: hasher,
		Logger: log, Marks: session.NewMarks(s.rdb), Reserved: cfg.ReservedUsernames, Guard: guard,
		Mail: s.mail, VerifyURL: cfg.VerifyURL,
		// A block makes the pair's inboxes forget each other.
		BlockHooks: []identity.BlockHook{s.Notifications}}); err != nil {
		return s, err
	}
	// Media and content check each other in-process: an upload's post_id
	// must be the uploader's post, a new post's media_ids their uploads.
	mediaStore, err := media.NewStore(cfg.Media.Store)
	if err != nil {
		return s, err
	}
	if s3, ok := mediaStore.(*media.S3Store); ok {
		if err := s3.Check(ctx); err != nil {
			return s, fmt.Errorf("nova-api: %w", err)
		}
	}
	if s.Media, err = media.New(media.Config{Pool: s.pool, Outbox: ob, Store: mediaStore, Logger: log,
		Limits: cfg.Media.Limits, TempDir: cfg.Media.TempDir, FFmpeg: cfg.Media.FFmpeg,
		UploadTimeout: cfg.Media.UploadTimeout, URLs: cfg.Media.URLs,
		Posts: media.PostOwnerFunc(func(ctx context.Context, u id.UserID, p id.PostID) error {
			return s.Content.MustOwn(ctx, u, p)
		}),
		// Who may fetch a file follows its post's visibility.
		Audiences: media.AudienceFunc(func(ctx context.Context, m id.MediaID) (mediaurl.Audience, error) {
			return s.Content.MediaAudience(ctx, m)
		})}); err != nil {
		return s, err
	}
	pending, err := pendingmedia.New(s.rdb, 0)
	if err != nil {
		return s, err
	}
	if s.Content, err = content.New(content.Config{Pool: s.pool, Outbox: ob, Follows: s.Identity, Blocks: s.Identity, Logger: log,
		Media: s.Media, Pending: pending, MediaURLs: s.Media.URLs(), MediaRemover: s.Media}); err != nil {
		return s, err
	}
	if s.Messaging, err = messaging.New(messaging.Config{Pool: s.pool, Outbox: ob, Logger: log, Relations: s.Identity,
		UserExists: userExists(s.Identity), Media: messaging.OwnedMedia(s.Media.Media), MediaURLs: s.Media.URLs()}); err != nil {
		return s, err
	}
	store, err := feed.NewStore(s.rdb, cfg.Feed)
	if err != nil {
		return s, err
	}
	reader, err := timeline.New(timeline.Config{Store: store, DirectCall: cfg.DirectCall, Content: s.Content, Logger: log,
		MediaURLs: s.Media.URLs()})
	if err != nil {
		return s, err
	}

	mux := httpapi.NewRoutes()
	// A token passes while its session lives; the role is read from the
	// store on every request.
	authed := httpapi.Authenticate(s.Identity.Verifier(verifier), log)
	limits := []httpapi.Middleware{httpapi.ClientIP(cfg.TrustedProxies)}
	if limiter != nil {
		// Each caller's own budget, by the route's class; the routes with
		// no caller yet spend their address's.
		authenticate, perAccount := authed, ratelimit.Middleware(limiter, log, ratelimit.AccountRule(cfg.RateLimits))
		authed = func(h http.Handler) http.Handler { return authenticate(perAccount(h)) }
		limits = append(limits, ratelimit.Middleware(limiter, log, ratelimit.AddressRule(cfg.RateLimits)))
	}
	s.Identity.Mount(mux, authed)
	s.Identity.Deletion(s.accountErasers(guard)...).Mount(mux, authed)
	s.Content.Mount(mux, authed)
	s.Media.Mount(mux, authed)
	reader.Mount(mux, authed)
	if err := mountModeration(mux, authed, s.pool, ob, log); err != nil {
		return s, err
	}
	s.Notifications.Mount(mux, authed)
	s.Messaging.Mount(mux, authed)
	if err := mountSearchAndAnalytics(mux, authed, s.pool, s.Identity, log); err != nil {
		return s, err
	}
	// The API's own description, anonymous: GET /v1/openapi.json, /v1/docs.
	if err := openapi.Mount(mux); err != nil {
		return s, err
	}
	s.routes = mux.Patterns()
	mux.Handle("/", httpapi.Fallback(mux.ServeMux, log))
	chain := append([]httpapi.Middleware{httpapi.Recoverer(log), httpapi.RequestID, httpapi.AccessLog(log), httpapi.SecurityHeaders},
		limits...)
	s.handler = traced(s.tracing, httpapi.Chain(nameSpans(mux), append(chain, httpapi.ValidUTF8(log))...))

	if cfg.Relay {
		pcfg := kafka.DefaultProducerConfig(cfg.KafkaBrokers...)
		pcfg.Security = cfg.KafkaSecurity
		if s.producer, err = kafka.NewProducer(pcfg); err != nil {
			return s, fmt.Errorf("nova-api: kafka: %w", err)
		}
		if s.relay, err = outbox.NewRelay(s.pool, s.producer, outbox.Config{Topics: topics, Logger: log,
			Tracer: s.tracing.TracerProvider(), Meter: s.tracing.MeterProvider()}); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Handler serves the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes lists every endpoint's pattern ("METHOD /path/{param}"), as the
// domains registered them; the catch-all that answers 404 and 405 is not
// among them.
func (s *Server) Routes() []string { return slices.Clone(s.routes) }

// Run runs the outbox relay, the mail queue and the session sync until
// ctx ends.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.Identity.KeepSessions(ctx, sessionSyncInterval) })
	wg.Go(func() { s.mail.Run(ctx) })
	if s.relay != nil {
		s.relay.Run(ctx)
	}
	wg.Wait()
}

// sessionSyncInterval is how often nova-api checks that Redis still holds
// the live sessions: the most a Redis that lost its data keeps the gateway
// answering 503.
const sessionSyncInterval = 15 * time.Second

// Ready reports whether PostgreSQL and Redis answer.
func (s *Server) Ready(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Close releases the connections. Call it after Run returned.
func (s *Server) Close() error {
	var errs []error
	if s.producer != nil {
		errs = append(errs, s.producer.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.tracing != nil {
		// Spans still buffered go out; a collector that does not answer
		// delays a stop by at most this long.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs = append(errs, s.tracing.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
