package deploycheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/cmd/nova/internal/dispatcher"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/functions/dead-letter/store"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/mail/sink"
	"github.com/nova-social/nova/shared/redisdb"
)

// Flow is the outcome of one end-to-end check run against the built
// functions once they are all ready: production's binaries, each its own
// process, driven as a cluster drives them.
type Flow struct {
	Name string
	Took time.Duration
	// Skipped says why the flow did not run (a function it needs was not
	// checked); Err why it failed.
	Skipped string
	Err     error
}

// flows are run in order by runFlows.
var flows = []struct {
	name  string
	needs []string
	run   func(ctx context.Context, env flowEnv) error
}{
	{"concurrent deliveries, a quarter abandoned by their client", []string{"feed-fanout"}, concurrentDeliveries},
	{"sign up with the mailed code, follow, post: the post reaches the follower's feed; a poison event reaches the dead-letter store",
		[]string{"nova-api", "feed-fanout", "dead-letter"}, eventPath},
}

// flowEnv is what a flow works with.
type flowEnv struct {
	local Local
	urls  map[string]string // function name → base URL
	// sources are the KafkaSources kubectl apply -k eventing/ would create.
	sources []source.KafkaSource
	log     *slog.Logger
}

func runFlows(ctx context.Context, env flowEnv) []Flow {
	var out []Flow
	for _, f := range flows {
		r := Flow{Name: f.name}
		var missing []string
		for _, n := range f.needs {
			if env.urls[n] == "" {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			r.Skipped = "needs " + strings.Join(missing, ", ") + " running"
		} else {
			began := time.Now()
			r.Err = f.run(ctx, env)
			r.Took = time.Since(began)
		}
		out = append(out, r)
	}
	return out
}

// concurrentDeliveries posts 400 PostCreated events to feed-fanout, 50 at
// once, abandoning every fourth after a few milliseconds, as a dispatcher
// whose delivery timeout fires would. Every delivery whose client waits
// must be answered 200, and a delivery after the burst at once: func-go's
// cloudevents runtime strands requests behind abandoned ones, the eventfunc
// adapter must not.
func concurrentDeliveries(ctx context.Context, env flowEnv) error {
	url := env.urls["feed-fanout"]
	codec := envelope.NewCodec(catalog.Default())
	client := &http.Client{Timeout: 20 * time.Second}
	// As feed-fanout's KafkaSource sends them: with its OIDC token.
	from := sender.Ref{Kind: sender.KindKafkaSource, Name: "feed-fanout"}
	token, err := env.local.Issuer.Tokens.Token(ctx, source.DefaultNamespace, from.ServiceAccount(), sender.AudiencePrefix+"feed-fanout")
	if err != nil {
		return err
	}
	deliver := func(ctx context.Context) (int, error) {
		e, err := codec.New(&eventsv1.PostCreated{PostId: uuid.NewString(), UserId: uuid.NewString(),
			Content: "deploy-check", Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()})
		if err != nil {
			return 0, err
		}
		return post(ctx, client, url, token, e)
	}
	const total, batch = 400, 50
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		answered atomic.Int64
	)
	for i := range total {
		wg.Go(func() {
			ctx := ctx
			abandon := i%4 == 0
			if abandon {
				c, cancel := context.WithTimeout(ctx, time.Duration(1+rand.IntN(4))*time.Millisecond)
				defer cancel()
				ctx = c
			}
			code, err := deliver(ctx)
			switch {
			case abandon:
			case err != nil:
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			case code != http.StatusOK:
				mu.Lock()
				failures = append(failures, fmt.Sprintf("answered %d", code))
				mu.Unlock()
			default:
				answered.Add(1)
			}
		})
		if i%batch == batch-1 {
			wg.Wait()
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		return fmt.Errorf("%d of the %d deliveries whose client waited failed: %s", len(failures), total*3/4, strings.Join(failures[:min(5, len(failures))], "; "))
	}
	after, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if code, err := deliver(after); err != nil || code != http.StatusOK {
		return fmt.Errorf("a delivery after the burst: %d %w (a request stranded behind an abandoned one?)", code, err)
	}
	env.log.Info("concurrent deliveries", "answered", answered.Load(), "abandoned", total/4)
	return nil
}

// post sends e in binary mode, as Knative's dispatchers do.
func post(ctx context.Context, client *http.Client, url, token string, e event.Event) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return 0, err
	}
	if err := cehttp.WriteRequest(binding.WithForceBinary(ctx), binding.ToMessage(&e), req); err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// eventPath runs the local dispatcher over eventing/'s KafkaSources with
// the built functions as sinks, then goes through nova-api: two users, each
// signed up with the code nova-api mailed to the local relay, a follow and
// a post, which must reach the follower's home feed through the
// outbox, Kafka, the KafkaSource and feed-fanout; then a PostCreated whose
// data is not protobuf, produced to content-events, which must be
// dead-lettered with a 400 and its reason into the dead-letter function's
// store.
func eventPath(ctx context.Context, env flowEnv) (err error) {
	sinks := dispatcher.MapResolver{}
	var running []source.KafkaSource
	for _, s := range env.sources {
		if s.Sink.Ref == nil || env.urls[s.Sink.Ref.Name] == "" {
			continue
		}
		if d := s.Delivery.DeadLetterSink; d != nil && (d.Ref == nil || env.urls[d.Ref.Name] == "") {
			continue
		}
		for _, d := range []*source.Destination{&s.Sink, s.Delivery.DeadLetterSink} {
			if d != nil && d.Ref != nil {
				sinks[d.Ref.Namespace+"/"+d.Ref.Name] = env.urls[d.Ref.Name]
			}
		}
		running = append(running, s)
	}
	disp, err := dispatcher.New(ctx, dispatcher.Config{Brokers: env.local.KafkaBrokers, Logger: env.log, Registry: prometheus.NewRegistry(),
		Tokens: env.local.Issuer.Tokens,
		Secrets: func(_ string, ref source.SecretKeyRef) (string, error) {
			return env.local.Kafka.Secret(ref.Name, ref.Key)
		}},
		running, sinks)
	if err != nil {
		return err
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- disp.Run(dctx) }()
	defer func() {
		stop()
		if derr := <-done; derr != nil && !errors.Is(derr, context.Canceled) && err == nil {
			err = fmt.Errorf("dispatcher: %w", derr)
		}
	}()

	api := &apiClient{base: env.urls["nova-api"], http: &http.Client{Timeout: 30 * time.Second}, mail: env.local.Mail}
	author, err := api.register(ctx, "author")
	if err != nil {
		return err
	}
	fan, err := api.register(ctx, "fan")
	if err != nil {
		return err
	}
	if _, err := api.call(ctx, http.StatusNoContent, "POST", "/v1/users/"+author.id+"/follow", fan.token, nil); err != nil {
		return err
	}
	// The follow must reach feed-fanout's follower index before the post,
	// or the post is written to the author's feed only.
	if err := eventually(ctx, 60*time.Second, "the follow to reach feed-fanout", func() (bool, string, error) {
		return followed(ctx, env.local.RedisURL, author.id, fan.id)
	}); err != nil {
		return err
	}
	p, err := api.call(ctx, http.StatusCreated, "POST", "/v1/posts", author.token, map[string]any{"content": "through every hop", "visibility": "PUBLIC"})
	if err != nil {
		return err
	}
	postID, _ := p["id"].(string)
	if err := eventually(ctx, 60*time.Second, "the post in the follower's feed", func() (bool, string, error) {
		feed, err := api.call(ctx, http.StatusOK, "GET", "/v1/feed?limit=20", fan.token, nil)
		if err != nil {
			return false, "", err
		}
		raw, _ := json.Marshal(feed["items"])
		return strings.Contains(string(raw), postID), "feed: " + string(raw), nil
	}); err != nil {
		return err
	}

	// The poison.
	pcfg := kafka.DefaultProducerConfig(env.local.KafkaBrokers...)
	pcfg.Security = env.local.Kafka.Admin
	prod, err := kafka.NewProducer(pcfg)
	if err != nil {
		return err
	}
	defer prod.Close()
	poison := event.New()
	poison.SetID(uuid.Must(uuid.NewV7()).String())
	poison.SetSource("/nova/content-service")
	poison.SetType("com.nova.content.post.created")
	poison.SetExtension(envelope.PartitionKeyExtension, author.id)
	if err := poison.SetData("application/protobuf", []byte{0xff, 0xff, 0xff, 0xff}); err != nil {
		return err
	}
	if err := prod.Send(ctx, kafka.Record{Topic: catalog.ContentEvents, Event: poison}); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, env.local.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	dls := store.New(pool)
	return eventually(ctx, 60*time.Second, "the poison event in the dead-letter store", func() (bool, string, error) {
		got, err := dls.List(ctx, store.Filter{Source: poison.Source(), ID: poison.ID()})
		if err != nil {
			return false, "", err
		}
		if len(got) == 0 {
			return false, "no entry", nil
		}
		e := got[0]
		if e.ErrorCode != http.StatusBadRequest || e.ErrorData == "" || e.Topic != catalog.ContentEvents {
			return false, "", fmt.Errorf("dead letter with code %d, reason %q, topic %q; want 400 with a reason, from %s", e.ErrorCode, e.ErrorData, e.Topic, catalog.ContentEvents)
		}
		return true, "", nil
	})
}

// eventually polls cond every 100ms until it holds, it fails, or timeout.
func eventually(ctx context.Context, timeout time.Duration, what string, cond func() (bool, string, error)) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, seen, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		last = seen
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %s (last seen: %s)", what, timeout, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// apiClient calls nova-api's JSON API.
type apiClient struct {
	base string
	http *http.Client
	// mail is the relay nova-api sends sign-up mail through.
	mail *sink.Sink
}

// mailTimeout bounds the wait for a sign-up mail: nova-api sends it from
// its queue once the sign-up commits, within a poll interval at worst.
const mailTimeout = 30 * time.Second

type apiUser struct{ id, token string }

// register signs a user up, proves the address with the code mailed to
// it, and logs in.
func (c *apiClient) register(ctx context.Context, name string) (apiUser, error) {
	name = name + "_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	email := name + "@example.com"
	const password = "deploy-check correct horse"
	if _, err := c.call(ctx, http.StatusAccepted, "POST", "/v1/users", "", map[string]any{"username": name, "email": email, "password": password}); err != nil {
		return apiUser{}, err
	}
	code, err := c.code(ctx, email)
	if err != nil {
		return apiUser{}, fmt.Errorf("sign up %s: %w", name, err)
	}
	u, err := c.call(ctx, http.StatusCreated, "POST", "/v1/users/verification", "", map[string]any{"code": code})
	if err != nil {
		return apiUser{}, err
	}
	s, err := c.call(ctx, http.StatusOK, "POST", "/v1/sessions", "", map[string]any{"username": name, "password": password})
	if err != nil {
		return apiUser{}, err
	}
	id, _ := u["id"].(string)
	token, _ := s["token"].(string)
	if id == "" || token == "" {
		return apiUser{}, fmt.Errorf("register %s: no id or token in %v, %v", name, u, s)
	}
	return apiUser{id: id, token: token}, nil
}

// code waits for the first mail to email and reads its verification code.
func (c *apiClient) code(ctx context.Context, email string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	m, err := c.mail.Wait(ctx, email, 1)
	if err != nil {
		return "", fmt.Errorf("the verification mail did not reach the local relay within %s: %w", mailTimeout, err)
	}
	code, ok := identity.CodeFromMail(m.Text)
	if !ok {
		return "", fmt.Errorf("no verification code in the mail to %s (subject %q):\n%s", email, m.Subject, m.Text)
	}
	return code, nil
}

func (c *apiClient) call(ctx context.Context, want int, method, path, token string, body any) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return out, nil
}

// followed reports whether feed-fanout's follower index has fan following
// author.
func followed(ctx context.Context, redisURL, author, fan string) (bool, string, error) {
	rdb, err := redisdb.Open(ctx, redisdb.Config{URL: redisURL})
	if err != nil {
		return false, "", err
	}
	defer rdb.Close()
	s, err := feed.NewStore(rdb, feed.DefaultConfig())
	if err != nil {
		return false, "", err
	}
	ok, err := s.Follows(ctx, fan, author)
	return ok, "not in the follower index", err
}
