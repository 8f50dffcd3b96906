package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/fault"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/testrig"
)

// faultRig is a running Nova that reaches PostgreSQL and Redis through
// fault proxies, with a 5xx switch on every function, and direct
// connections to the real servers for counting what happened.
type faultRig struct {
	*rig
	pg, redis *fault.Proxy
	sw        *fault.Switch
	db        *pgxpool.Pool // direct, not through the proxy
	rdb       *redis.Client // direct
	client    *http.Client
}

// throughProxy starts a proxy for the server of rawURL and returns the
// proxy with rawURL pointed at it.
func throughProxy(t *testing.T, rawURL string) (*fault.Proxy, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := fault.Listen(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	return p, u.String()
}

func startFaulty(t *testing.T) *faultRig {
	t.Helper()
	directDB, directRedis := testrig.PostgresURL(t), testrig.RedisAdminURL(t)
	pg, dbURL := throughProxy(t, directDB)
	rp, redisURL := throughProxy(t, directRedis)
	sw := fault.NewSwitch()
	r := startWith(t, system.Config{
		DatabaseURL: dbURL, RedisURL: redisURL,
		Environ:    map[string]string{"MEDIA_DIR": t.TempDir(), "MEDIA_TMP_DIR": t.TempDir()},
		Middleware: sw.Middleware,
		// Three nodes, so leaders and coordinators can move.
		Kafka: broker.Config{Nodes: 3},
		// Scaled out as Knative scales under load: the dispatcher posts
		// to one address and the balancer spreads the deliveries, of
		// ordered sources too; two nova-api replicas run two outbox
		// relays over one outbox.
		Replicas: faultReplicas,
	})
	// Cleanups run last first: whatever the test left down comes back
	// before the system stops, so it stops cleanly.
	t.Cleanup(func() {
		pg.Up()
		rp.Up()
	})
	db, err := pgxpool.New(context.Background(), directDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return &faultRig{
		rig: r, pg: pg, redis: rp, sw: sw, db: db,
		rdb: testrig.Redis(t), client: &http.Client{Timeout: 15 * time.Second},
	}
}

// faultReplicas are the functions the fault suite scales out.
var faultReplicas = map[string]int{"nova-api": 2, "feed-fanout": 3, "chat-persist": 2, "notifier": 2, "chat-push": 2, "realtime-gateway": 2}

// spread lists, per scaled-out function, the requests its balancer gave
// each replica, failing the test when one took none: then the function
// was not scaled out at all.
func (r *faultRig) spread(t *testing.T) []string {
	t.Helper()
	names := slices.Sorted(maps.Keys(faultReplicas))
	var out []string
	for _, name := range names {
		n, served, err := r.sys.Replicas(name)
		if err != nil {
			t.Errorf("replicas of %s: %v", name, err)
			continue
		}
		if n != faultReplicas[name] || slices.Contains(served, 0) {
			t.Errorf("%s: %d replicas took %v requests, want %d replicas each taking some", name, n, served, faultReplicas[name])
		}
		out = append(out, fmt.Sprintf("%s: %d replicas, %v", name, n, served))
	}
	return out
}

// try is one API call that may fail, as a client sees it during a fault:
// a transport error or any status, never a test failure.
func (r *faultRig) try(ctx context.Context, method, path, token string, body any) (int, map[string]any, error) {
	req, err := testrig.JSONRequest(ctx, method, r.api+path, token, body)
	if err != nil {
		return 0, nil, err
	}
	return r.send(req)
}

func (r *faultRig) send(req *http.Request) (int, map[string]any, error) {
	return testrig.DoJSON(r.client, req)
}

// tryUpload posts a file to POST /v1/media for postID ("" for a pending
// upload).
func (r *faultRig) tryUpload(ctx context.Context, u user, file []byte, postID string) (int, map[string]any, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if postID != "" {
		if err := w.WriteField("post_id", postID); err != nil {
			return 0, nil, err
		}
	}
	fw, err := w.CreateFormFile("file", "photo.png")
	if err != nil {
		return 0, nil, err
	}
	fw.Write(file)
	w.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.api+"/v1/media", &body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+u.Token)
	return r.send(req)
}

// retry repeats call until it answers one of want or ctx ends; for calls
// that are idempotent (a follow, a message with its client id).
func retry(ctx context.Context, want []int, call func() (int, map[string]any, error)) (map[string]any, int, error) {
	attempts := 0
	for {
		attempts++
		code, out, err := call()
		for _, w := range want {
			if err == nil && code == w {
				return out, attempts, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, attempts, fmt.Errorf("gave up after %d attempts: last %d %v %v: %w", attempts, code, out, err, ctx.Err()) //nolint:errorlint // err may be nil; ctx.Err() is what ended it
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// liveSocket is a user's websocket read in the background: it counts every
// pushed message by id and hands acks and errors to the sender.
type liveSocket struct {
	name    string
	ws      *websocket.Conn
	replies chan map[string]any // ack and error frames

	mu       sync.Mutex
	messages map[string]int // message id → frames received
	readErr  error
}

// live opens u's websocket (while the system is healthy) and reads it
// until the test ends.
func (r *faultRig) live(u user) *liveSocket {
	r.t.Helper()
	ws := r.dial(u)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := &liveSocket{name: u.Name, ws: ws, replies: make(chan map[string]any, 64), messages: map[string]int{}}
	_, data, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"hello"`) {
		r.t.Fatalf("hello of %s: %q %v", u.Name, data, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				s.mu.Lock()
				s.readErr = err
				s.mu.Unlock()
				return
			}
			var f map[string]any
			if json.Unmarshal(data, &f) != nil {
				continue
			}
			switch f["type"] {
			case "message":
				if m, ok := f["message"].(map[string]any); ok {
					s.mu.Lock()
					s.messages[fmt.Sprint(m["id"])]++
					s.mu.Unlock()
				}
			case "ack", "error":
				select {
				case s.replies <- f:
				default:
				}
			}
		}
	}()
	r.t.Cleanup(func() { ws.CloseNow(); <-done })
	return s
}

// received returns how often each message id arrived, and the read error
// that ended the socket, if any.
func (s *liveSocket) received() (map[string]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.messages))
	for k, v := range s.messages {
		out[k] = v
	}
	return out, s.readErr
}

// typeMessage sends a typed message and waits for its ack, sending it
// again (same client id) after an error frame or silence, until ctx ends.
func (s *liveSocket) typeMessage(ctx context.Context, conv, clientID, content string) (int, error) {
	frame, _ := json.Marshal(map[string]any{"type": "message", "conversation_id": conv,
		"client_message_id": clientID, "content": content, "message_type": "TEXT"})
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.ws.Write(wctx, websocket.MessageText, frame)
		cancel()
		if err != nil {
			return attempt, fmt.Errorf("write on %s's socket: %w", s.name, err)
		}
		wait := time.After(10 * time.Second)
	reply:
		for {
			select {
			case f := <-s.replies:
				if f["client_message_id"] != clientID {
					continue // a late reply to an earlier attempt
				}
				if f["type"] == "ack" {
					return attempt, nil
				}
				break reply
			case <-wait:
				break reply
			case <-ctx.Done():
				return attempt, ctx.Err()
			}
		}
		select {
		case <-ctx.Done():
			return attempt, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
