package content_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/password"
	"github.com/nova-social/nova/shared/testrig"
)

// The identity service is the follow graph content asks in production.
var _ content.FollowGraph = (*identity.Service)(nil)

// rig is a content service on a fresh database, its HTTP endpoints behind
// the real token verifier, and the identity service (on the same database)
// as its follow graph.
type rig struct {
	t      testing.TB
	ctx    context.Context
	pool   *pgxpool.Pool
	svc    *content.Service
	people *identity.Service
	codec  *envelope.Codec
	signer *auth.Signer
	keys   *auth.KeySet
	mux    *http.ServeMux
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRig(t testing.TB) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := outbox.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := content.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := identity.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	codec := envelope.NewCodec(catalog.Default())
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
	verifier, err := auth.NewVerifier(ks, auth.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// argon2 at its floor: these tests register users, they do not test
	// password cost.
	hasher, err := password.New(password.Config{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	people, err := identity.New(identity.Config{Pool: pool, Outbox: outbox.New(codec), Signer: signer, Hasher: hasher, Logger: quiet(),
		Marks: session.NewMarks(testrig.Redis(t), session.InNamespace(testrig.ID())), Mail: testrig.MailQueue(t, pool, testrig.Mail(t))})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := content.New(content.Config{Pool: pool, Outbox: outbox.New(codec), Follows: people, Blocks: people, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Mount(mux, httpapi.Authenticate(verifier, quiet()))
	mux.Handle("/", httpapi.Fallback(mux, quiet()))
	return &rig{t: t, ctx: ctx, pool: pool, svc: svc, people: people, codec: codec, signer: signer, keys: ks, mux: mux}
}

// user registers a user with identity.
func (r *rig) user() id.UserID {
	r.t.Helper()
	name := "u_" + testrig.ID()
	u, err := r.people.Register(r.ctx, identity.Registration{Username: name, Email: name + "@example.com", Password: "correct horse"})
	if err != nil {
		r.t.Fatal(err)
	}
	return u.ID
}

// follows makes follower follow followee.
func (r *rig) follows(follower, followee id.UserID) {
	r.t.Helper()
	if _, err := r.people.Follow(r.ctx, follower, followee); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) unfollows(follower, followee id.UserID) {
	r.t.Helper()
	if _, err := r.people.Unfollow(r.ctx, follower, followee); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) token(u id.UserID) string {
	r.t.Helper()
	tok, _, err := r.signer.Issue(auth.Principal{UserID: u, Role: auth.RoleUser})
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

// response is an HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (res response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(res.Body, v); err != nil {
		t.Fatalf("body %q: %v", res.Body, err)
	}
}

// errorCode checks the answer is a JSON error with status and returns its code.
func (res response) errorCode(t testing.TB, status int) string {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d; body %s", res.Status, status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(res.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error body %s: %v", res.Body, err)
	}
	return e.Error.Code
}

// do sends a request as tok ("" for none) with a JSON body ("" for none).
func (r *rig) do(method, path, tok, body string) response {
	r.t.Helper()
	return r.doRaw(method, path, tok, body, "")
}

func (r *rig) doAs(method, path string, u id.UserID, body string) response {
	r.t.Helper()
	return r.do(method, path, r.token(u), body)
}

// apiPost is the post JSON of the API.
type apiPost struct {
	ID           string    `json:"id"`
	AuthorID     string    `json:"author_id"`
	Content      string    `json:"content"`
	Type         string    `json:"type"`
	Visibility   string    `json:"visibility"`
	Tags         []string  `json:"tags"`
	Media        []any     `json:"media"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	LikeCount    int64     `json:"like_count"`
	CommentCount int64     `json:"comment_count"`
	Hidden       bool      `json:"hidden"`
	HiddenReason string    `json:"hidden_reason"`
}

// create posts through the API and returns the post.
func (r *rig) create(author id.UserID, body string) apiPost {
	r.t.Helper()
	res := r.doAs("POST", "/v1/posts", author, body)
	if res.Status != http.StatusCreated {
		r.t.Fatalf("create: status %d: %s", res.Status, res.Body)
	}
	var p apiPost
	res.json(r.t, &p)
	return p
}

// outboxEvent is an event read back from the outbox table and decoded.
type outboxEvent struct {
	Topic, Key string
	envelope.Decoded
}

// events returns the content domain's events in the outbox (identity's
// user-events left out), in id order, decoded.
func (r *rig) events() []outboxEvent {
	r.t.Helper()
	rows, err := r.pool.Query(r.ctx, `SELECT topic, key, event_id, source, type, coalesce(subject, ''), time,
		coalesce(datacontenttype, ''), coalesce(dataschema, ''), extensions, data FROM `+outbox.Table+`
		WHERE topic <> 'user-events' ORDER BY id`)
	if err != nil {
		r.t.Fatal(err)
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxEvent, error) {
		var (
			o                                outboxEvent
			evID, src, typ, subj, ct, schema string
			at                               *time.Time
			exts                             map[string]string
			data                             []byte
		)
		if err := row.Scan(&o.Topic, &o.Key, &evID, &src, &typ, &subj, &at, &ct, &schema, &exts, &data); err != nil {
			return o, err
		}
		e := cloudevents.NewEvent()
		e.SetID(evID)
		e.SetSource(src)
		e.SetType(typ)
		if subj != "" {
			e.SetSubject(subj)
		}
		if at != nil {
			e.SetTime(*at)
		}
		if schema != "" {
			e.SetDataSchema(schema)
		}
		for k, v := range exts {
			e.SetExtension(k, v)
		}
		if err := e.SetData(ct, data); err != nil {
			return o, err
		}
		d, err := r.codec.Decode(e)
		o.Decoded = d
		return o, err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}

// counts is the number of rows of every table a request could write.
type counts struct{ Posts, Live, Likes, Comments, Outbox int }

func (r *rig) counts() counts {
	r.t.Helper()
	var c counts
	if err := r.pool.QueryRow(r.ctx, `SELECT
		(SELECT count(*) FROM posts),
		(SELECT count(*) FROM posts WHERE deleted_at IS NULL),
		(SELECT count(*) FROM likes),
		(SELECT count(*) FROM comments),
		(SELECT count(*) FROM `+outbox.Table+`)`).Scan(&c.Posts, &c.Live, &c.Likes, &c.Comments, &c.Outbox); err != nil {
		r.t.Fatal(err)
	}
	return c
}

// postsDigest fingerprints the posts table, to prove a refused edit left
// every row as it was.
func (r *rig) postsDigest() string {
	r.t.Helper()
	var s string
	if err := r.pool.QueryRow(r.ctx, `SELECT coalesce(md5(string_agg(p::text, '|' ORDER BY id)), '') FROM posts p`).Scan(&s); err != nil {
		r.t.Fatal(err)
	}
	return s
}

// hide marks a post hidden as moderation would.
func (r *rig) hide(postID, reason string) {
	r.t.Helper()
	if _, err := r.pool.Exec(r.ctx, `UPDATE posts SET hidden = true, hidden_reason = $2 WHERE id = $1`, postID, reason); err != nil {
		r.t.Fatal(err)
	}
}

// doRaw is do with a chosen Content-Type ("" means application/json).
func (r *rig) doRaw(method, path, tok, body, contentType string) response {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// newSignerAt is a signer with the rig's key whose clock is hours off.
func newSignerAt(r *rig, hours int) (*auth.Signer, error) {
	at := time.Now().Add(time.Duration(hours) * time.Hour)
	return auth.NewSigner(r.keys, auth.SignerConfig{Now: func() time.Time { return at }})
}

func principal(u id.UserID) auth.Principal { return auth.Principal{UserID: u, Role: auth.RoleUser} }
