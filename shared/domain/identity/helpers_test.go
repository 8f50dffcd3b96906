package identity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/mail/sink"
	"github.com/nova-social/nova/shared/password"
	"github.com/nova-social/nova/shared/testrig"
)

type fixture struct {
	pool     *pgxpool.Pool
	svc      *identity.Service
	cfg      identity.Config
	codec    *envelope.Codec
	keys     *auth.KeySet
	verifier *auth.Verifier
	handler  http.Handler
	marks    *session.Marks
	mail     *sink.Sink
}

// quietLog drops the request-failure lines the bad-input tests provoke.
var quietLog = slog.New(slog.DiscardHandler)

// cheapHasher keeps argon2 at its floor: the tests check behaviour, not cost.
func cheapHasher(t testing.TB) *password.Hasher {
	t.Helper()
	h, err := password.New(password.Config{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// setup migrates a fresh database and builds a Service and its HTTP handler
// with a freshly generated signing key. edit adjusts the Config.
func setup(t testing.TB, edit ...func(*identity.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := outbox.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := identity.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return build(t, pool, edit...)
}

// build makes a Service on an already migrated pool.
func build(t testing.TB, pool *pgxpool.Pool, edit ...func(*identity.Config)) *fixture {
	t.Helper()
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(ks, auth.SignerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// The verifier sees the public half only, as every other component does.
	public, err := auth.NewKeySet(key.PublicOnly())
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(public, auth.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	codec := envelope.NewCodec(catalog.Default())
	relay := testrig.Mail(t)
	queue := testrig.MailQueue(t, pool, relay)
	qctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); queue.Run(qctx) }()
	t.Cleanup(func() { stop(); <-done })
	cfg := identity.Config{
		Mail:   queue,
		Pool:   pool,
		Outbox: outbox.New(codec),
		Signer: signer,
		Hasher: cheapHasher(t),
		Logger: quietLog,
		Marks:  session.NewMarks(testrig.CodeRedis(t), session.InNamespace(testrig.ID())),
	}
	for _, e := range edit {
		e(&cfg)
	}
	svc, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// As nova-api's KeepSessions does at start.
	if err := svc.SyncSessions(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Mount(mux, httpapi.Authenticate(svc.Verifier(verifier), quietLog))
	return &fixture{pool: pool, svc: svc, cfg: cfg, codec: codec, keys: ks, verifier: verifier, handler: mux, marks: cfg.Marks, mail: relay}
}

// mailTo waits for the n-th message (1-based) the relay got for addr.
func (f *fixture) mailTo(t testing.TB, addr string, n int) sink.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := f.mail.Wait(ctx, addr, n)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// code is the verification code of the n-th mail to addr.
func (f *fixture) code(t testing.TB, addr string, n int) string {
	t.Helper()
	m := f.mailTo(t, addr, n)
	c, ok := identity.CodeFromMail(m.Text)
	if !ok {
		t.Fatalf("mail %d to %s holds no code:\n%s", n, addr, m.Text)
	}
	return c
}

// stored is one outbox row, decoded.
type stored struct {
	Topic, Key string
	envelope.Decoded
}

// outboxEvents returns the events waiting in the outbox, oldest first,
// decoded through the envelope codec as a consumer would.
func (f *fixture) outboxEvents(t testing.TB) []stored {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT topic, key, event_id, source, type, coalesce(subject, ''), time,
		coalesce(datacontenttype, ''), coalesce(dataschema, ''), extensions, data FROM `+outbox.Table+` ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []stored
	for rows.Next() {
		var (
			s                                   stored
			evID, source, typ, subject, ct, sch string
			at                                  *time.Time
			exts                                map[string]string
			data                                []byte
		)
		if err := rows.Scan(&s.Topic, &s.Key, &evID, &source, &typ, &subject, &at, &ct, &sch, &exts, &data); err != nil {
			t.Fatal(err)
		}
		ev := cloudevents.NewEvent()
		ev.SetID(evID)
		ev.SetSource(source)
		ev.SetType(typ)
		if subject != "" {
			ev.SetSubject(subject)
		}
		if at != nil {
			ev.SetTime(*at)
		}
		if sch != "" {
			ev.SetDataSchema(sch)
		}
		for k, v := range exts {
			ev.SetExtension(k, v)
		}
		if err := ev.SetData(ct, data); err != nil {
			t.Fatal(err)
		}
		d, err := f.codec.Decode(ev)
		if err != nil {
			t.Fatalf("outbox row %s does not decode: %v", evID, err)
		}
		s.Decoded = d
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// clearOutbox empties the outbox so a test step sees only its own events.
func (f *fixture) clearOutbox(t testing.TB) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), `DELETE FROM `+outbox.Table); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// register creates a user through the Service.
func (f *fixture) register(t testing.TB, username string) identity.User {
	t.Helper()
	u, err := f.svc.Register(context.Background(), identity.Registration{
		Username: username, Email: username + "@example.com", Password: "correct horse " + username,
	})
	if err != nil {
		t.Fatalf("register %s: %v", username, err)
	}
	return u
}

// token logs username in through the Service.
func (f *fixture) token(t testing.TB, username string) string {
	t.Helper()
	s, err := f.svc.Login(context.Background(), identity.Credentials{Username: username, Password: "correct horse " + username}, identity.Device{})
	if err != nil {
		t.Fatalf("login %s: %v", username, err)
	}
	return s.Token
}

// call serves one request. body "" sends none; a JSON body gets the JSON
// content type unless ct says otherwise.
type call struct {
	method, path, token, body string
	ct                        *string
}

func (f *fixture) do(t testing.TB, c call) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(c.method, c.path, body)
	if c.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.ct != nil {
		r.Header.Set("Content-Type", *c.ct)
	}
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// decode reads a JSON response into v, failing on anything else.
func decode(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, w.Body)
	}
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type userBody struct {
	ID             id.UserID `json:"id"`
	Username       string    `json:"username"`
	Email          string    `json:"email"`
	DisplayName    string    `json:"display_name"`
	AvatarURL      string    `json:"avatar_url"`
	CreatedAt      time.Time `json:"created_at"`
	FollowersCount *int64    `json:"followers_count"`
	FollowingCount *int64    `json:"following_count"`
}

type tokenBody struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresIn int64  `json:"expires_in"`
}

func ptr[T any](v T) *T { return &v }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
