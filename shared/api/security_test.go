package api_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/api"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/auth/authtest"
	"github.com/nova-social/nova/shared/domain/moderation"
	"github.com/nova-social/nova/shared/domain/notification"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// The security suite: every endpoint of nova-api against every kind of
// caller, hostile tokens, injection and traversal payloads, oversized and
// slow requests. It runs on the real stores; Kafka is not needed (no
// relay), so events simply wait in the outbox.

// actor is a kind of caller.
type actor string

const (
	anon  actor = "anonymous"
	other actor = "other user"
	admin actor = "admin"
	owner actor = "owner"
)

// actors in the order every row runs them: the owner last, so what the
// others were refused is checked before the owner changes it.
var actors = []actor{anon, other, admin, owner}

const password = "correct horse battery"

type person struct {
	id    id.UserID
	name  string
	email string
	token string
}

// secRig is nova-api over a real listener with four people and the
// owner's private things in every domain.
type secRig struct {
	t        *testing.T
	srv      *api.Server
	base     string
	pool     *pgxpool.Pool
	key      auth.Key
	mediaDir string
	// secret is a file planted beside the media directory; no request may
	// ever read it.
	secret string

	people map[actor]person
	friend person // takes part in the owner's conversation and follows the owner

	// The owner's things; markers are unique strings the owner's private
	// data carries, which must never reach anyone else.
	publicPost, followersPost, privatePost, doomedPost string
	privateMarker, followersMarker, commentMarker      string
	conversation, messageMarker                        string
	mediaKey, mediaURL                                 string
	notice, notice2                                    string
	queuedPost, queueMarker                            string
	// spareSession is a second live session of the owner's, for the
	// revocation row.
	spareSession string
}

func newSecRig(t *testing.T, extraEnv map[string]string) *secRig {
	t.Helper()
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := key.MarshalPrivatePEM()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	r := &secRig{t: t, key: key, mediaDir: filepath.Join(root, "media"), secret: "planted-secret-" + testrig.ID()}
	if err := os.MkdirAll(r.mediaDir, 0o750); err != nil {
		t.Fatal(err)
	}
	// The secret sits where ../ from the media directory (or from any
	// object in it) would reach.
	for _, p := range []string{filepath.Join(root, "secret.txt"), filepath.Join(root, "secret.png")} {
		if err := os.WriteFile(p, []byte(r.secret), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	adminName := "root_" + testrig.ID()[:8]
	db := testrig.PostgresURL(t)
	env := map[string]string{
		"DATABASE_URL": db, "REDIS_URL": testrig.RedisURL(t), "OUTBOX_RELAY": "false",
		auth.EnvPrivateKey: string(pem), "MEDIA_DIR": r.mediaDir, "MEDIA_TMP_DIR": t.TempDir(),
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	cfg, err := api.ConfigFrom(roomy(env))
	if err != nil {
		t.Fatal(err)
	}
	if r.srv, err = api.New(context.Background(), cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	// Run sends the sign-up mail (the outbox relay is off).
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.srv.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done; r.srv.Close() })
	hs := httptest.NewServer(r.srv.Handler())
	t.Cleanup(hs.Close)
	r.base = hs.URL
	if r.pool, err = pgxpool.New(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.pool.Close)

	r.people = map[actor]person{
		owner: r.register("owner_" + testrig.ID()[:8]),
		other: r.register("other_" + testrig.ID()[:8]),
		admin: r.register(adminName),
	}
	grantAdmin(t, r.pool, r.people[admin].id)
	r.friend = r.register("friend_" + testrig.ID()[:8])
	r.seed()
	return r
}

// login opens another session of name's and returns its token.
func (r *secRig) login(name string) string {
	r.t.Helper()
	code, s := r.json("POST", "/v1/sessions", "", map[string]any{"username": name, "password": password})
	if code != http.StatusOK {
		r.t.Fatalf("login %s: %d %v", name, code, s)
	}
	return s["token"].(string)
}

// tokenID reads a token's jti, its session's id.
func tokenID(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is no JWS", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		ID string `json:"jti"`
	}
	if err != nil || json.Unmarshal(raw, &c) != nil || c.ID == "" {
		t.Fatalf("token payload %q has no jti: %v", raw, err)
	}
	return c.ID
}

func (r *secRig) register(name string) person {
	r.t.Helper()
	p := person{name: name, email: name + "@example.com"}
	if code, body := r.json("POST", "/v1/users", "", map[string]any{"username": name, "email": p.email, "password": password}); code != http.StatusAccepted {
		r.t.Fatalf("sign up %s: %d %v", name, code, body)
	}
	code, u := r.json("POST", "/v1/users/verification", "", verification(r.t, p.email))
	if code != http.StatusCreated {
		r.t.Fatalf("register %s: %d %v", name, code, u)
	}
	p.id = id.UserID(u["id"].(string))
	code, s := r.json("POST", "/v1/sessions", "", map[string]any{"username": name, "password": password})
	if code != http.StatusOK {
		r.t.Fatalf("login %s: %d %v", name, code, s)
	}
	p.token = s["token"].(string)
	return p
}

// request is one HTTP request of the suite.
type request struct {
	method, path string
	body         []byte
	contentType  string
	header       http.Header
	// token, when set, is sent instead of the caller's own (a session of
	// theirs the row may end).
	token string
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (r *secRig) send(q request, token string) (int, http.Header, []byte) {
	r.t.Helper()
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
	}
	req, err := http.NewRequest(q.method, r.base+q.path, body)
	if err != nil {
		r.t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	if q.body != nil {
		ct := q.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, vs := range q.header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("%s %s: read answer: %v", q.method, q.path, err)
	}
	return resp.StatusCode, resp.Header, raw
}

func (r *secRig) json(method, path, token string, body any) (int, map[string]any) {
	r.t.Helper()
	q := request{method: method, path: path}
	if body != nil {
		q.body = jsonBody(body)
	}
	code, _, raw := r.send(q, token)
	var out map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		r.t.Fatalf("%s %s answered non-JSON %q", method, path, raw)
	}
	return code, out
}

func (r *secRig) must(want int, method, path, token string, body any) map[string]any {
	r.t.Helper()
	code, out := r.json(method, path, token, body)
	if code != want {
		r.t.Fatalf("%s %s = %d %v, want %d", method, path, code, out, want)
	}
	return out
}

func pngBytes() []byte {
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		panic(err)
	}
	return img.Bytes()
}

// uploadRequest is a multipart upload of a small PNG, for postID when set.
// deepPNG is a side×side 16-bit RGBA PNG whose rows are zeros: small on
// the wire, eight bytes a pixel once decoded.
func deepPNG(side int) []byte {
	chunk := func(out *bytes.Buffer, typ string, data []byte) {
		_ = binary.Write(out, binary.BigEndian, uint32(len(data)))
		out.WriteString(typ)
		out.Write(data)
		_ = binary.Write(out, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	row := make([]byte, 1+side*8)
	for range side {
		_, _ = zw.Write(row)
	}
	_ = zw.Close()
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(side))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(side))
	ihdr[8], ihdr[9] = 16, 6
	chunk(&out, "IHDR", ihdr)
	chunk(&out, "IDAT", idat.Bytes())
	chunk(&out, "IEND", nil)
	return out.Bytes()
}

func uploadRequest(postID string) request {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if postID != "" {
		_ = w.WriteField("post_id", postID)
	}
	part, _ := w.CreateFormFile("file", "dot.png")
	_, _ = part.Write(pngBytes())
	_ = w.Close()
	return request{method: "POST", path: "/v1/media", body: body.Bytes(), contentType: w.FormDataContentType()}
}

// seed gives the owner something private in every domain. What the
// event-fed stores (search, analytics, the review queue, the inbox) would
// receive from their functions is written through the same domain code or
// tables those functions use.
func (r *secRig) seed() {
	ctx := context.Background()
	o := r.people[owner]
	tag := testrig.ID()
	r.privateMarker, r.followersMarker, r.commentMarker = "zprivate"+tag, "zfollowers"+tag, "zcomment"+tag
	r.messageMarker, r.queueMarker = "zmessage"+tag, "zqueued"+tag
	newPost := func(content, vis string) string {
		return r.must(http.StatusCreated, "POST", "/v1/posts", o.token,
			map[string]any{"content": content, "visibility": vis, "media_ids": []string{}})["id"].(string)
	}
	r.publicPost = newPost("hello world "+tag, "PUBLIC")
	r.followersPost = newPost("for my followers "+r.followersMarker, "FOLLOWERS_ONLY")
	r.privatePost = newPost("diary "+r.privateMarker, "PRIVATE")
	r.doomedPost = newPost("soon gone "+tag, "PUBLIC")
	r.queuedPost = newPost("flagged "+r.queueMarker, "PUBLIC")
	r.spareSession = tokenID(r.t, r.login(o.name))
	r.must(http.StatusCreated, "POST", "/v1/posts/"+r.privatePost+"/comments", o.token, map[string]any{"content": "note " + r.commentMarker})
	r.must(http.StatusNoContent, "POST", "/v1/users/"+o.id.String()+"/follow", r.friend.token, nil)

	conv := r.must(http.StatusCreated, "POST", "/v1/conversations", o.token, map[string]any{"participant_ids": []string{r.friend.id.String()}})
	r.conversation = conv["id"].(string)
	r.must(http.StatusCreated, "POST", "/v1/conversations/"+r.conversation+"/messages", o.token,
		map[string]any{"client_message_id": "seed-1", "type": "TEXT", "content": "psst " + r.messageMarker})

	code, _, raw := r.send(uploadRequest(""), o.token)
	if code != http.StatusCreated {
		r.t.Fatalf("upload: %d %s", code, raw)
	}
	var m struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || !strings.Contains(m.URL, "/v1/media/files/") {
		r.t.Fatalf("upload answered %s", raw)
	}
	// Attached to no post, the upload is not public: the uploader is
	// handed a signed URL.
	_, r.mediaURL, _ = strings.Cut(m.URL, "/v1/media/files/")
	r.mediaKey, _, _ = strings.Cut(r.mediaURL, "?")

	// Notifications are the notifier's to record: nova-api's outbox takes no
	// notification-events.
	cat := catalog.Default()
	inbox, err := notification.New(notification.Config{Pool: r.pool,
		Outbox: outbox.New(envelope.NewCodec(cat), cat.WrittenBy(catalog.Notifier)...)})
	if err != nil {
		r.t.Fatal(err)
	}
	for i, dst := range []*string{&r.notice, &r.notice2} {
		res, err := inbox.Record(ctx, notification.Trigger{Source: "/test", ID: tag + fmt.Sprint(i)},
			[]notification.Incoming{{Recipient: o.id, Kind: notification.Comment, SubjectID: []string{r.publicPost, r.doomedPost}[i],
				Actor: r.friend.id, Preview: "nice " + tag}})
		if err != nil || len(res.Written) != 1 {
			r.t.Fatalf("seed notification: %v %+v", err, res)
		}
		*dst = res.Written[0].ID
	}

	st, err := moderation.NewStore(r.pool, outbox.New(envelope.NewCodec(cat), cat.WrittenBy(catalog.TrustSafety)...))
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := st.Record(ctx, moderation.Verdict{PostID: r.queuedPost, AuthorID: o.id.String(), Content: "flagged " + r.queueMarker,
		ContentAt: time.Now(), Action: eventsv1.ModerationAction_MODERATION_ACTION_FLAG,
		Reasons: []moderation.Reason{{Code: "test", Detail: "seeded"}}}); err != nil {
		r.t.Fatal(err)
	}

	now := time.Now().UTC()
	for _, sql := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO analytics_posts (post_id, author_id, views, likes) VALUES ($1, $2, 424242, 1)`, []any{r.publicPost, o.id.String()}},
		{`INSERT INTO analytics_user_days (day, user_id, events) VALUES ($1, $2, 313373)`, []any{now, o.id.String()}},
		{`INSERT INTO search_posts (post_id, author_id, content, visibility, created_at, updated_at) VALUES ($1, $2, $3, 'PRIVATE', $4, $4)`,
			[]any{r.privatePost, o.id.String(), "diary " + r.privateMarker, now}},
		{`INSERT INTO search_posts (post_id, author_id, content, visibility, created_at, updated_at) VALUES ($1, $2, $3, 'FOLLOWERS_ONLY', $4, $4)`,
			[]any{r.followersPost, o.id.String(), "for my followers " + r.followersMarker, now}},
	} {
		if _, err := r.pool.Exec(ctx, sql.q, sql.args...); err != nil {
			r.t.Fatalf("seed %q: %v", sql.q, err)
		}
	}
}

// row is one line of the authorization matrix: a request to one endpoint,
// the status each kind of caller must get, and what must not leak.
type row struct {
	pattern string // as registered: "METHOD /path/{param}"
	variant string
	req     func(r *secRig, a actor) request
	want    map[actor]int
	// hidden are strings of the owner's that only seers may read in an
	// answer; when show is set a seer's answer must hold one of them.
	hidden func(r *secRig) []string
	seers  []actor
	show   bool
	// check looks at one caller's successful answer.
	check func(r *secRig, a actor, body []byte)
	// after checks the state once every caller has been.
	after func(r *secRig)
}

func get(path string) func(*secRig, actor) request {
	return func(*secRig, actor) request { return request{method: "GET", path: path} }
}

func statuses(a, o, ad, ow int) map[actor]int {
	return map[actor]int{anon: a, other: o, admin: ad, owner: ow}
}

const (
	s200 = http.StatusOK
	s201 = http.StatusCreated
	s202 = http.StatusAccepted
	s400 = http.StatusBadRequest
	s204 = http.StatusNoContent
	s401 = http.StatusUnauthorized
	s403 = http.StatusForbidden
	s404 = http.StatusNotFound
	s422 = http.StatusUnprocessableEntity
)

// matrix is every endpoint × caller. Reads run before writes, and the
// follow rows last, so what one row changes does not decide another.
func matrix() []row {
	ownerPath := func(format string, f func(r *secRig) string) func(*secRig, actor) request {
		return func(r *secRig, _ actor) request { return request{method: "GET", path: fmt.Sprintf(format, f(r))} }
	}
	method := func(m string, path func(r *secRig) string, body func(r *secRig, a actor) any) func(*secRig, actor) request {
		return func(r *secRig, a actor) request {
			q := request{method: m, path: path(r)}
			if body != nil {
				q.body = jsonBody(body(r, a))
			}
			return q
		}
	}
	private := func(r *secRig) string { return r.privatePost }
	postPath := func(suffix string) func(r *secRig) string {
		return func(r *secRig) string { return "/v1/posts/" + r.privatePost + suffix }
	}
	conv := func(suffix string) func(r *secRig) string {
		return func(r *secRig) string { return "/v1/conversations/" + r.conversation + suffix }
	}
	ownerID := func(r *secRig) string { return r.people[owner].id.String() }
	markers := func(r *secRig) []string { return []string{r.privateMarker, r.followersMarker, r.commentMarker} }

	return []row{
		// Identity.
		{pattern: "POST /v1/users", want: statuses(s202, s202, s202, s202),
			req: method("POST", func(*secRig) string { return "/v1/users" }, func(_ *secRig, a actor) any {
				n := "new_" + testrig.ID()[:10]
				return map[string]any{"username": n, "email": n + "@example.com", "password": password}
			})},
		// Whoever holds a mailed code makes its account; nobody else can.
		{pattern: "POST /v1/users/verification", want: statuses(s201, s201, s201, s201),
			req: method("POST", func(*secRig) string { return "/v1/users/verification" }, func(r *secRig, _ actor) any {
				n := "new_" + testrig.ID()[:10]
				if code, body := r.json("POST", "/v1/users", "", map[string]any{"username": n, "email": n + "@example.com", "password": password}); code != s202 {
					r.t.Fatalf("sign up: %d %v", code, body)
				}
				return map[string]any{"code": signUpCode(r.t, n+"@example.com", 1)}
			})},
		// A reset code sets a new password for whoever holds it.
		{pattern: "POST /v1/password-resets", want: statuses(s202, s202, s202, s202),
			req: method("POST", func(*secRig) string { return "/v1/password-resets" }, func(*secRig, actor) any {
				return map[string]any{"email": "new_" + testrig.ID()[:10] + "@example.com"}
			})},
		{pattern: "POST /v1/password-resets/confirmation", want: statuses(s204, s204, s204, s204),
			req: method("POST", func(*secRig) string { return "/v1/password-resets/confirmation" }, func(r *secRig, _ actor) any {
				p := r.register("new_" + testrig.ID()[:10])
				if code, body := r.json("POST", "/v1/password-resets", "", map[string]any{"email": p.email}); code != s202 {
					r.t.Fatalf("ask for a reset: %d %v", code, body)
				}
				return map[string]any{"code": signUpCode(r.t, p.email, 2), "new_password": "a fresh horse battery"}
			})},
		{pattern: "POST /v1/password-resets/confirmation", variant: "made-up code", want: statuses(s400, s400, s400, s400),
			req: method("POST", func(*secRig) string { return "/v1/password-resets/confirmation" }, func(*secRig, actor) any {
				return map[string]any{"code": strings.Repeat("x", 43), "new_password": "a fresh horse battery"}
			})},
		{pattern: "POST /v1/users/verification", variant: "made-up code", want: statuses(s400, s400, s400, s400),
			req: method("POST", func(*secRig) string { return "/v1/users/verification" }, func(*secRig, actor) any {
				return map[string]any{"code": strings.Repeat("x", 43)}
			})},
		{pattern: "POST /v1/sessions", want: statuses(s200, s200, s200, s200),
			req: method("POST", func(*secRig) string { return "/v1/sessions" }, func(r *secRig, _ actor) any {
				return map[string]any{"username": r.friend.name, "password": password}
			})},
		{pattern: "POST /v1/sessions", variant: "wrong password", want: statuses(s401, s401, s401, s401),
			req: method("POST", func(*secRig) string { return "/v1/sessions" }, func(r *secRig, _ actor) any {
				return map[string]any{"username": r.people[owner].name, "password": "wrong horse battery"}
			}),
			hidden: func(*secRig) []string { return []string{`"token"`} }},
		{pattern: "GET /v1/.well-known/jwks.json", want: statuses(s200, s200, s200, s200), req: get("/v1/.well-known/jwks.json"),
			// The private half of the signing key is never published.
			hidden: func(r *secRig) []string {
				j, err := r.key.PrivateJWK()
				if err != nil {
					r.t.Fatal(err)
				}
				return []string{j.D, `"d"`}
			}},
		// nova-api's description of itself is for anyone.
		{pattern: "GET /v1/openapi.json", want: statuses(s200, s200, s200, s200), req: get("/v1/openapi.json")},
		{pattern: "GET /v1/docs", want: statuses(s200, s200, s200, s200), req: get("/v1/docs")},
		{pattern: "GET /v1/users/me", want: statuses(s401, s200, s200, s200), req: get("/v1/users/me"),
			hidden: func(r *secRig) []string { return []string{r.people[owner].email} }, seers: []actor{owner}, show: true},
		{pattern: "GET /v1/sessions", want: statuses(s401, s200, s200, s200), req: get("/v1/sessions"),
			hidden: func(r *secRig) []string {
				return []string{tokenID(r.t, r.people[owner].token), r.spareSession}
			}, seers: []actor{owner}, show: true},
		// An admin may not end anyone's session either: 404, as for a
		// session that does not exist.
		{pattern: "DELETE /v1/sessions/{id}", want: statuses(s401, s404, s404, s204),
			req: method("DELETE", func(r *secRig) string { return "/v1/sessions/" + r.spareSession }, nil),
			after: func(r *secRig) {
				r.countRows(1, `SELECT count(*) FROM sessions WHERE id = $1 AND revoked_at IS NOT NULL`, r.spareSession)
			}},
		// Each caller logs out a session of their own opened for the row.
		{pattern: "DELETE /v1/sessions/current", want: statuses(s401, s204, s204, s204),
			req: func(r *secRig, a actor) request {
				q := request{method: "DELETE", path: "/v1/sessions/current"}
				if a != anon {
					q.token = r.login(r.people[a].name)
				}
				return q
			}},
		// With a wrong current password: the check comes after the caller
		// is known, and a right one would end every session of theirs.
		{pattern: "PUT /v1/users/me/password", want: statuses(s401, s403, s403, s403),
			req: method("PUT", func(*secRig) string { return "/v1/users/me/password" }, func(*secRig, actor) any {
				return map[string]any{"current_password": "wrong horse battery", "new_password": "a new horse battery"}
			})},
		{pattern: "PATCH /v1/users/me", want: statuses(s401, s200, s200, s200),
			req: method("PATCH", func(*secRig) string { return "/v1/users/me" }, func(_ *secRig, a actor) any {
				return map[string]any{"display_name": "I am " + string(a)}
			}),
			after: func(r *secRig) {
				out := r.must(s200, "GET", "/v1/users/me", r.people[owner].token, nil)
				if out["display_name"] != "I am owner" {
					r.t.Errorf("the owner's display name is %v after the others changed theirs", out["display_name"])
				}
			}},
		// Deleting an account takes its password again: a token alone,
		// even the owner's, deletes nothing.
		{pattern: "DELETE /v1/users/me", variant: "wrong password", want: statuses(s401, s403, s403, s403),
			req: method("DELETE", func(*secRig) string { return "/v1/users/me" }, func(*secRig, actor) any {
				return map[string]any{"password": "wrong horse battery"}
			}),
			after: func(r *secRig) {
				for _, a := range actors[1:] {
					r.must(s200, "GET", "/v1/users/me", r.people[a].token, nil)
				}
			}},
		{pattern: "GET /v1/users/{id}", want: statuses(s401, s200, s200, s200), req: ownerPath("/v1/users/%s", ownerID),
			hidden: func(r *secRig) []string { return []string{r.people[owner].email} }, seers: []actor{owner}, show: true},

		// Content: the private post answers 404 to everyone but its author.
		{pattern: "GET /v1/posts/{id}", variant: "public", want: statuses(s401, s200, s200, s200),
			req: ownerPath("/v1/posts/%s", func(r *secRig) string { return r.publicPost })},
		{pattern: "GET /v1/posts/{id}", variant: "followers only", want: statuses(s401, s404, s404, s200),
			req:    ownerPath("/v1/posts/%s", func(r *secRig) string { return r.followersPost }),
			hidden: func(r *secRig) []string { return []string{r.followersMarker} }, seers: []actor{owner}, show: true},
		{pattern: "GET /v1/posts/{id}", variant: "private", want: statuses(s401, s404, s404, s200),
			req: ownerPath("/v1/posts/%s", private), hidden: markers, seers: []actor{owner}, show: true},
		{pattern: "GET /v1/posts/{id}/comments", variant: "private post", want: statuses(s401, s404, s404, s200),
			req: ownerPath("/v1/posts/%s/comments", private), hidden: markers, seers: []actor{owner}, show: true},
		{pattern: "GET /v1/feed", want: statuses(s401, s200, s200, s200), req: get("/v1/feed"), hidden: markers},
		{pattern: "GET /v1/search", want: statuses(s401, s200, s200, s200),
			req: func(r *secRig, _ actor) request {
				return request{method: "GET", path: "/v1/search?q=" + url.QueryEscape(r.privateMarker)}
			},
			hidden: markers, seers: []actor{owner}, show: true},
		{pattern: "GET /v1/search", variant: "followers only", want: statuses(s401, s200, s200, s200),
			req: func(r *secRig, _ actor) request {
				return request{method: "GET", path: "/v1/search?q=" + url.QueryEscape(r.followersMarker)}
			},
			hidden: func(r *secRig) []string { return []string{r.followersMarker} }, seers: []actor{owner}, show: true},

		// Messaging: a conversation is its participants' alone.
		{pattern: "GET /v1/conversations", want: statuses(s401, s200, s200, s200), req: get("/v1/conversations"),
			hidden: func(r *secRig) []string { return []string{r.conversation, r.messageMarker} }, seers: []actor{owner}, show: true},
		{pattern: "GET /v1/conversations/{id}", want: statuses(s401, s404, s404, s200), req: method("GET", conv(""), nil),
			hidden: func(r *secRig) []string { return []string{r.friend.id.String(), r.messageMarker} }, seers: []actor{owner}, show: true},
		{pattern: "GET /v1/conversations/{id}/messages", want: statuses(s401, s404, s404, s200), req: method("GET", conv("/messages"), nil),
			hidden: func(r *secRig) []string { return []string{r.messageMarker} }, seers: []actor{owner}, show: true},

		// The inbox is its recipient's alone.
		{pattern: "GET /v1/notifications", want: statuses(s401, s200, s200, s200), req: get("/v1/notifications"),
			hidden: func(r *secRig) []string { return []string{r.notice} }, seers: []actor{owner}, show: true},

		// Analytics: own counters or an admin; the summaries admins only.
		{pattern: "GET /v1/analytics/posts/{id}", want: statuses(s401, s404, s200, s200),
			req:    ownerPath("/v1/analytics/posts/%s", func(r *secRig) string { return r.publicPost }),
			hidden: func(*secRig) []string { return []string{"424242"} }, seers: []actor{owner, admin}, show: true},
		{pattern: "GET /v1/analytics/users/{id}", want: statuses(s401, s404, s200, s200), req: ownerPath("/v1/analytics/users/%s", ownerID),
			hidden: func(*secRig) []string { return []string{"313373"} }, seers: []actor{owner, admin}, show: true},
		{pattern: "GET /v1/analytics/summary", want: statuses(s401, s403, s200, s403), req: get("/v1/analytics/summary"),
			hidden: func(*secRig) []string { return []string{"daily_active_users"} }, seers: []actor{admin}, show: true},
		{pattern: "GET /v1/analytics/metrics", want: statuses(s401, s403, s200, s403), req: get("/v1/analytics/metrics"),
			hidden: func(*secRig) []string { return []string{"# HELP"} }, seers: []actor{admin}, show: true},

		// The review queue is for admins, the flagged post's author included
		// out.
		{pattern: "GET /v1/moderation/queue", want: statuses(s401, s403, s200, s403), req: get("/v1/moderation/queue"),
			hidden: func(r *secRig) []string { return []string{r.queueMarker} }, seers: []actor{admin}, show: true},

		// Media files take no token (URLs for <img src>): a file of no public
		// post is served through its signed URL only, to whoever holds it.
		{pattern: "GET /v1/media/files/{key...}", want: statuses(s200, s200, s200, s200),
			req: func(r *secRig, _ actor) request { return request{method: "GET", path: "/v1/media/files/" + r.mediaURL} }},
		{pattern: "GET /v1/media/files/{key...}", variant: "unsigned, of no public post", want: statuses(s404, s404, s404, s404),
			req: func(r *secRig, _ actor) request { return request{method: "GET", path: "/v1/media/files/" + r.mediaKey} }},
		{pattern: "GET /v1/media/files/{key...}", variant: "forged signature", want: statuses(s403, s403, s403, s403),
			req: func(r *secRig, _ actor) request {
				return request{method: "GET", path: "/v1/media/files/" + r.mediaKey + "?expires=4102444800&signature=AAAA"}
			}},
		{pattern: "GET /v1/media/files/{key...}", variant: "unknown key", want: statuses(s404, s404, s404, s404),
			req: func(r *secRig, _ actor) request {
				return request{method: "GET", path: "/v1/media/files/" + strings.Replace(r.mediaKey, "original", "other", 1)}
			}},

		// Writes.
		{pattern: "POST /v1/posts", want: statuses(s401, s201, s201, s201),
			req: method("POST", func(*secRig) string { return "/v1/posts" }, func(_ *secRig, a actor) any {
				return map[string]any{"content": "posted by " + string(a), "media_ids": []string{}}
			})},
		{pattern: "PATCH /v1/posts/{id}", variant: "public", want: statuses(s401, s403, s403, s200),
			req: method("PATCH", func(r *secRig) string { return "/v1/posts/" + r.publicPost }, func(_ *secRig, a actor) any {
				return map[string]any{"content": "edited by " + string(a)}
			}),
			after: func(r *secRig) {
				out := r.must(s200, "GET", "/v1/posts/"+r.publicPost, r.people[owner].token, nil)
				if out["content"] != "edited by owner" {
					r.t.Errorf("public post content %v", out["content"])
				}
			}},
		{pattern: "PATCH /v1/posts/{id}", variant: "private", want: statuses(s401, s404, s404, s200),
			req: method("PATCH", postPath(""), func(r *secRig, a actor) any {
				return map[string]any{"tags": []string{string(a[:2])}}
			}), hidden: markers, seers: []actor{owner}, show: true},
		{pattern: "POST /v1/posts/{id}/likes", variant: "private post", want: statuses(s401, s404, s404, s200),
			req: method("POST", postPath("/likes"), nil), hidden: markers},
		{pattern: "DELETE /v1/posts/{id}/likes", variant: "private post", want: statuses(s401, s404, s404, s200),
			req: method("DELETE", postPath("/likes"), nil), hidden: markers},
		{pattern: "POST /v1/posts/{id}/comments", variant: "private post", want: statuses(s401, s404, s404, s201),
			req: method("POST", postPath("/comments"), func(_ *secRig, a actor) any {
				return map[string]any{"content": "comment by " + string(a)}
			}), hidden: markers,
			after: func(r *secRig) {
				r.countRows(0, `SELECT count(*) FROM comments WHERE content IN ('comment by other user', 'comment by admin')`)
			}},
		{pattern: "POST /v1/posts/{id}/views", variant: "private post", want: statuses(s401, s404, s404, s202),
			req: method("POST", postPath("/views"), nil), hidden: markers},
		{pattern: "POST /v1/posts/{id}/shares", variant: "private post", want: statuses(s401, s404, s404, s202),
			req: method("POST", postPath("/shares"), nil), hidden: markers},
		{pattern: "DELETE /v1/posts/{id}", want: statuses(s401, s403, s403, s204),
			req: method("DELETE", func(r *secRig) string { return "/v1/posts/" + r.doomedPost }, nil)},
		{pattern: "DELETE /v1/posts/{id}", variant: "private", want: statuses(s401, s404, s404, s404),
			// Nobody deletes it here: the owner's request names a post that
			// does not exist, the others' the private one.
			req: func(r *secRig, a actor) request {
				if a == owner {
					return request{method: "DELETE", path: "/v1/posts/" + id.NewPostID().String()}
				}
				return request{method: "DELETE", path: "/v1/posts/" + r.privatePost}
			},
			after: func(r *secRig) { r.must(s200, "GET", "/v1/posts/"+r.privatePost, r.people[owner].token, nil) }},

		{pattern: "POST /v1/media", want: statuses(s401, s201, s201, s201), req: func(*secRig, actor) request { return uploadRequest("") }},
		{pattern: "POST /v1/media", variant: "for the owner's private post", want: statuses(s401, s404, s404, s201),
			req: func(r *secRig, _ actor) request { return uploadRequest(r.privatePost) }, hidden: markers},
		{pattern: "POST /v1/media", variant: "for the owner's public post", want: statuses(s401, s403, s403, s201),
			req: func(r *secRig, _ actor) request { return uploadRequest(r.publicPost) }},

		{pattern: "POST /v1/conversations", want: statuses(s401, s201, s201, s200),
			req: method("POST", func(*secRig) string { return "/v1/conversations" }, func(r *secRig, _ actor) any {
				return map[string]any{"participant_ids": []string{r.friend.id.String()}}
			})},
		{pattern: "POST /v1/conversations/{id}/messages", want: statuses(s401, s404, s404, s201),
			req: method("POST", conv("/messages"), func(_ *secRig, a actor) any {
				return map[string]any{"client_message_id": "m-" + string(a[:2]), "type": "TEXT", "content": "sent by " + string(a)}
			}),
			after: func(r *secRig) {
				r.countRows(0, `SELECT count(*) FROM messages WHERE content IN ('sent by other user', 'sent by admin', 'sent by anonymous')`)
				r.countRows(1, `SELECT count(*) FROM messages WHERE content = 'sent by owner'`)
			}},

		// The owner is a member of the DIRECT conversation: accepting
		// changes nothing, and a direct conversation is not left.
		{pattern: "POST /v1/conversations/{id}/accept", want: statuses(s401, s404, s404, s200), req: method("POST", conv("/accept"), nil),
			hidden: func(r *secRig) []string { return []string{r.friend.id.String()} }, seers: []actor{owner}, show: true},
		{pattern: "POST /v1/conversations/{id}/decline", want: statuses(s401, s404, s404, http.StatusBadRequest), req: method("POST", conv("/decline"), nil),
			after: func(r *secRig) {
				r.countRows(2, `SELECT count(*) FROM conversation_participants WHERE conversation_id = $1 AND status = 'ACTIVE'`, r.conversation)
			}},

		{pattern: "POST /v1/notifications/{id}/read", want: statuses(s401, s404, s404, s200),
			req: func(r *secRig, _ actor) request {
				return request{method: "POST", path: "/v1/notifications/" + r.notice + "/read"}
			}},
		{pattern: "POST /v1/notifications/read", want: statuses(s401, s200, s200, s200),
			req: func(*secRig, actor) request { return request{method: "POST", path: "/v1/notifications/read"} },
			// The others mark nothing of the owner's: the owner's second
			// notification is still unread when the owner comes.
			check: func(r *secRig, a actor, body []byte) {
				var out struct {
					Marked int64 `json:"marked"`
				}
				if err := json.Unmarshal(body, &out); err != nil {
					r.t.Fatalf("mark all read: %s", body)
				}
				if want := map[bool]int64{true: 1, false: 0}[a == owner]; out.Marked != want {
					r.t.Errorf("mark all read as %s marked %d, want %d", a, out.Marked, want)
				}
			}},

		{pattern: "POST /v1/moderation/queue/{post_id}/decision", want: statuses(s401, s403, s200, s403),
			req: method("POST", func(r *secRig) string { return "/v1/moderation/queue/" + r.queuedPost + "/decision" },
				func(*secRig, actor) any { return map[string]any{"action": "allow"} })},

		// Follows last: they change what the others may see.
		{pattern: "POST /v1/users/{id}/follow", want: statuses(s401, s204, s204, s422),
			req: method("POST", func(r *secRig) string { return "/v1/users/" + ownerID(r) + "/follow" }, nil)},
		{pattern: "DELETE /v1/users/{id}/follow", want: statuses(s401, s204, s204, s422),
			req: method("DELETE", func(r *secRig) string { return "/v1/users/" + ownerID(r) + "/follow" }, nil)},

		// Blocks after the follows: a block ends follows both ways. Each
		// caller's list is their own; the owner cannot block themselves.
		{pattern: "POST /v1/users/{id}/block", want: statuses(s401, s204, s204, s422),
			req: method("POST", func(r *secRig) string { return "/v1/users/" + ownerID(r) + "/block" }, nil)},
		{pattern: "GET /v1/users/me/blocks", want: statuses(s401, s200, s200, s200), req: get("/v1/users/me/blocks"),
			check: func(r *secRig, a actor, body []byte) {
				var out struct {
					Items []struct {
						User struct {
							ID string `json:"id"`
						} `json:"user"`
					} `json:"items"`
				}
				if err := json.Unmarshal(body, &out); err != nil {
					r.t.Fatalf("blocks: %s", body)
				}
				want := map[bool]int{true: 0, false: 1}[a == owner]
				if len(out.Items) != want || (want == 1 && out.Items[0].User.ID != ownerID(r)) {
					r.t.Errorf("blocks of %s: %s", a, body)
				}
			}},
		{pattern: "DELETE /v1/users/{id}/block", want: statuses(s401, s204, s204, s422),
			req: method("DELETE", func(r *secRig) string { return "/v1/users/" + ownerID(r) + "/block" }, nil)},
	}
}

func (r *secRig) countRows(want int64, sql string, args ...any) {
	r.t.Helper()
	var n int64
	if err := r.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		r.t.Fatalf("%s: %v", sql, err)
	}
	if n != want {
		r.t.Errorf("%s = %d, want %d", sql, n, want)
	}
}

// routeOf tells which of patterns a request is served by, as nova-api's
// mux would decide it.
func routeOf(patterns []string, q request) string {
	mux := http.NewServeMux()
	for _, p := range patterns {
		mux.Handle(p, http.NotFoundHandler())
	}
	req := httptest.NewRequest(q.method, q.path, nil)
	_, p := mux.Handler(req)
	return p
}

// Every endpoint nova-api serves answers every kind of caller as the
// matrix says, and nobody reads what is not theirs. An endpoint added
// without a row here fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	r := newSecRig(t, nil)
	routes := r.srv.Routes()
	rows := matrix()

	covered := map[string]bool{}
	for _, rw := range rows {
		if !slices.Contains(routes, rw.pattern) {
			t.Errorf("matrix row for %q, which nova-api does not serve", rw.pattern)
		}
		covered[rw.pattern] = true
	}
	for _, p := range routes {
		if !covered[p] {
			t.Errorf("endpoint %q has no row in the authorization matrix", p)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every answer is also one the OpenAPI document describes.
	doc := apiSpec(t)
	for _, rw := range rows {
		name := rw.pattern
		if rw.variant != "" {
			name += " (" + rw.variant + ")"
		}
		op := doc.Route(rw.pattern)
		if op == nil {
			t.Fatalf("%s is not in the OpenAPI document", rw.pattern)
		}
		for _, a := range actors {
			q := rw.req(r, a)
			if got := routeOf(routes, q); got != rw.pattern {
				t.Fatalf("%s: request %s %s is served by %q", name, q.method, q.path, got)
			}
			tok := r.people[a].token
			if q.token != "" {
				tok = q.token
			}
			code, hdr, body := r.send(q, tok)
			if err := op.Check(code, hdr, body); err != nil {
				t.Errorf("%s as %s: %v", name, a, err)
			}
			want := rw.want[a]
			if code != want {
				t.Errorf("%s as %s: %d %s, want %d", name, a, code, body, want)
				continue
			}
			if code >= 400 {
				checkJSONError(t, name+" as "+string(a), hdr, body)
			}
			if rw.check != nil && code < 300 {
				rw.check(r, a, body)
			}
			if code == s401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") && rw.variant != "wrong password" {
				t.Errorf("%s as %s: 401 without a Bearer challenge", name, a)
			}
			if rw.hidden == nil {
				continue
			}
			seer, shown := slices.Contains(rw.seers, a), false
			for _, h := range rw.hidden(r) {
				has := bytes.Contains(body, []byte(h))
				shown = shown || has
				if has && !seer {
					t.Errorf("%s as %s: the answer leaks %q: %s", name, a, h, body)
				}
			}
			if seer && rw.show && !shown {
				t.Errorf("%s as %s: the answer shows none of %q, so the leak check proves nothing: %s", name, a, rw.hidden(r), body)
			}
		}
		if rw.after != nil {
			rw.after(r)
		}
	}
}

func checkJSONError(t *testing.T, what string, hdr http.Header, body []byte) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		t.Errorf("%s: error answer is not the JSON error format: %q %s", what, hdr.Get("Content-Type"), body)
	}
}

// authenticated are the rows every anonymous caller is refused with 401:
// the endpoints that need a token.
func authenticated(r *secRig) []request {
	var out []request
	seen := map[string]bool{}
	for _, rw := range matrix() {
		if rw.want[anon] != s401 || seen[rw.pattern] || rw.variant == "wrong password" {
			continue
		}
		seen[rw.pattern] = true
		out = append(out, rw.req(r, other))
	}
	return out
}

// Every hostile token (authtest's: alg none, HS256 keyed with the public
// key, expired, wrong audience or issuer, unknown kid, a payload swapped
// for an admin one, …) and every wrong way of carrying a token is refused
// with 401 by every endpoint that needs one, and changes nothing.
func hostileTokens(t *testing.T, r *secRig) {
	f, err := authtest.NewForger(r.key, r.people[owner].id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cases, err := f.Cases()
	if err != nil {
		t.Fatal(err)
	}
	// The same forger's honest token is served: refusals are the token's
	// fault. Its session is stored as a login would; the hostile tokens
	// share its jti, so none is refused for want of a session.
	if _, err := r.pool.Exec(context.Background(), `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, now(), $3)`,
		f.Session(), string(r.people[owner].id), f.Expiry()); err != nil {
		t.Fatal(err)
	}
	// Building the requests may log in (the logout row's own session).
	reqs := authenticated(r)
	before := r.tableCounts()
	if code, _, body := r.send(request{method: "GET", path: "/v1/users/me"}, f.Valid()); code != s200 {
		t.Fatalf("the control token answered %d %s", code, body)
	}
	good := r.people[owner].token
	carriers := []struct {
		name string
		set  func(q *request)
	}{
		{"token in the query string", func(q *request) {
			q.path += sep(q.path) + "access_token=" + url.QueryEscape(good)
		}},
		{"Basic scheme", func(q *request) { q.header = http.Header{"Authorization": {"Basic " + good}} }},
		{"no scheme", func(q *request) { q.header = http.Header{"Authorization": {good}} }},
		{"two Authorization headers", func(q *request) {
			q.header = http.Header{"Authorization": {"Bearer " + good, "Bearer " + good}}
		}},
		{"token in a cookie", func(q *request) { q.header = http.Header{"Cookie": {"token=" + good + "; access_token=" + good}} }},
	}
	for _, q := range reqs {
		name := q.method + " " + q.path
		for _, c := range cases {
			code, hdr, body := r.send(q, c.Token)
			if code != s401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s with %s: %d %q %s, want 401 invalid_token", name, c.Name, code, hdr.Get("WWW-Authenticate"), body)
			}
			checkJSONError(t, name+" with "+c.Name, hdr, body)
		}
		for _, c := range carriers {
			cq := q
			c.set(&cq)
			if code, hdr, body := r.send(cq, ""); code != s401 {
				t.Errorf("%s with %s: %d %s, want 401", name, c.name, code, body)
			} else {
				checkJSONError(t, name+" with "+c.name, hdr, body)
			}
		}
	}
	if after := r.tableCounts(); !equalCounts(before, after) {
		t.Errorf("hostile tokens changed the tables: before %v, after %v", before, after)
	}
}

// A correctly signed token whose user does not exist (never registered,
// or removed while the token lives) has no live session: 401 everywhere,
// as JSON, reaching nobody's private things.
func unknownUser(t *testing.T, r *secRig) {
	f, err := authtest.NewForger(r.key, id.NewUserID(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	token := f.Valid()
	for _, rw := range matrix() {
		if rw.want[anon] != s401 {
			continue
		}
		q := rw.req(r, other)
		q.token = ""
		code, hdr, body := r.send(q, token)
		if code != s401 {
			t.Errorf("%s %s with an unknown user's token: %d %s, want 401", q.method, q.path, code, body)
		}
		if code >= 400 {
			checkJSONError(t, q.method+" "+q.path, hdr, body)
		}
		if rw.hidden != nil && !slices.Contains(rw.seers, other) {
			for _, h := range rw.hidden(r) {
				if bytes.Contains(body, []byte(h)) {
					t.Errorf("%s %s with an unknown user's token leaks %q", q.method, q.path, h)
				}
			}
		}
	}

}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

// tableCounts counts the rows of every table in the database.
func (r *secRig) tableCounts() map[string]int64 {
	r.t.Helper()
	ctx := context.Background()
	rows, err := r.pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		r.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			r.t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, tb := range tables {
		var n int64
		// Table names come from the catalogue, quoted as identifiers.
		if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM "`+strings.ReplaceAll(tb, `"`, `""`)+`"`).Scan(&n); err != nil {
			r.t.Fatal(err)
		}
		out[tb] = n
	}
	return out
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// injections are classic SQL injection payloads and their unicode and
// NUL-byte cousins.
var injections = []string{
	`' OR 1=1--`,
	`' OR '1'='1`,
	`'; DROP TABLE users;--`,
	`"; DROP TABLE posts; --`,
	`') OR ('x'='x`,
	`admin'--`,
	`1 UNION SELECT password_hash FROM users--`,
	`\'; DELETE FROM follows; --`,
	"\u02bc OR 1=1--",             // modifier letter apostrophe
	"\uff07; DROP TABLE users;--", // fullwidth apostrophe
	"\U0001F600'; TRUNCATE messages;--",
	"nul\x00byte",
	"\x00' OR 1=1--",
	`$1`, `@viewer`, `%`, `_`, `*`, `\`,
	`{"$gt": ""}`,
	"<script>alert(1)</script>",
	"../../etc/passwd",
}

// hashed are the payloads sent to registration and login.
var hashed = []string{`' OR 1=1--`, `'; DROP TABLE users;--`, "\uff07; DROP TABLE users;--", "\x00' OR 1=1--"}

// field is a JSON body with one string field to poison.
type field struct {
	as     actor
	method string
	path   func(r *secRig, own ownThings) string
	body   func(r *secRig, own ownThings, payload string) map[string]any
	name   string
}

// ownThings are the other user's own post and conversation, so that an
// injected field is judged by validation, not refused for ownership.
type ownThings struct{ post, conversation string }

func fields() []field {
	fixed := func(p string) func(*secRig, ownThings) string { return func(*secRig, ownThings) string { return p } }
	var out []field
	add := func(as actor, method string, path func(*secRig, ownThings) string, base func(r *secRig, own ownThings) map[string]any, names ...string) {
		for _, n := range names {
			out = append(out, field{as: as, method: method, path: path, name: n, body: func(r *secRig, own ownThings, payload string) map[string]any {
				b := base(r, own)
				key, list := strings.CutSuffix(n, "[]")
				if list {
					b[key] = []string{payload}
				} else {
					b[key] = payload
				}
				return b
			}})
		}
	}
	add(anon, "POST", fixed("/v1/users"), func(*secRig, ownThings) map[string]any {
		n := "inj_" + testrig.ID()[:8]
		return map[string]any{"username": n, "email": n + "@example.com", "password": password}
	}, "username", "email", "password")
	add(anon, "POST", fixed("/v1/sessions"), func(r *secRig, _ ownThings) map[string]any {
		return map[string]any{"username": r.friend.name, "password": password}
	}, "username", "email", "password")
	add(other, "PATCH", fixed("/v1/users/me"), func(*secRig, ownThings) map[string]any { return map[string]any{} },
		"username", "display_name", "avatar_url")
	add(other, "POST", fixed("/v1/posts"), func(*secRig, ownThings) map[string]any {
		return map[string]any{"content": "injected", "media_ids": []string{}}
	}, "content", "type", "visibility", "tags[]", "media_ids[]")
	add(other, "PATCH", func(_ *secRig, own ownThings) string { return "/v1/posts/" + own.post }, func(*secRig, ownThings) map[string]any {
		return map[string]any{}
	}, "content", "visibility", "tags[]")
	add(other, "POST", func(_ *secRig, own ownThings) string { return "/v1/posts/" + own.post + "/comments" },
		func(*secRig, ownThings) map[string]any { return map[string]any{} }, "content")
	add(other, "POST", fixed("/v1/conversations"), func(r *secRig, _ ownThings) map[string]any {
		return map[string]any{"participant_ids": []string{r.friend.id.String()}}
	}, "participant_ids[]", "title")
	add(other, "POST", func(_ *secRig, own ownThings) string { return "/v1/conversations/" + own.conversation + "/messages" },
		func(*secRig, ownThings) map[string]any {
			return map[string]any{"client_message_id": "inj-" + testrig.ID(), "type": "TEXT", "content": "injected"}
		}, "client_message_id", "type", "content", "media_ids[]")
	add(admin, "POST", func(r *secRig, _ ownThings) string { return "/v1/moderation/queue/" + r.queuedPost + "/decision" },
		func(*secRig, ownThings) map[string]any { return map[string]any{"action": "hide"} }, "action", "reason")
	return out
}

// queries are the endpoints that read query parameters, with the
// parameters they read.
var queries = []struct {
	as     actor
	path   func(r *secRig, own ownThings) string
	params []string
}{
	{other, func(*secRig, ownThings) string { return "/v1/search" }, []string{"q", "type", "limit", "cursor"}},
	{other, func(*secRig, ownThings) string { return "/v1/search?type=users" }, []string{"q", "cursor"}},
	{other, func(*secRig, ownThings) string { return "/v1/feed" }, []string{"limit", "cursor"}},
	{other, func(_ *secRig, own ownThings) string { return "/v1/posts/" + own.post + "/comments" }, []string{"limit", "cursor"}},
	{other, func(*secRig, ownThings) string { return "/v1/conversations" }, []string{"limit", "cursor"}},
	{other, func(_ *secRig, own ownThings) string { return "/v1/conversations/" + own.conversation + "/messages" },
		[]string{"limit", "cursor", "latest"}},
	{other, func(*secRig, ownThings) string { return "/v1/notifications" }, []string{"limit", "cursor", "unread"}},
	{admin, func(*secRig, ownThings) string { return "/v1/moderation/queue" }, []string{"limit", "cursor"}},
	{admin, func(*secRig, ownThings) string { return "/v1/analytics/summary" }, []string{"days", "hours"}},
	{other, func(r *secRig, _ ownThings) string { return "/v1/analytics/users/" + r.people[other].id.String() }, []string{"days"}},
}

// SQL injection and hostile text in every string field, query parameter
// and path id: each answer is a 2xx or a 4xx in the JSON error format,
// never a 5xx; no table loses a row or disappears; and text that is
// stored comes back byte for byte.
func injectionPayloads(t *testing.T, r *secRig) {
	o := r.people[other]
	own := ownThings{
		post: r.must(s201, "POST", "/v1/posts", o.token, map[string]any{"content": "mine", "media_ids": []string{}})["id"].(string),
		conversation: r.must(s201, "POST", "/v1/conversations", o.token,
			map[string]any{"participant_ids": []string{r.friend.id.String()}})["id"].(string),
	}
	before := r.tableCounts()
	var registered int64
	judge := func(what string, code int, hdr http.Header, body []byte) {
		t.Helper()
		switch {
		case code >= 500:
			t.Errorf("%s: %d %s", what, code, body)
		case code >= 400:
			checkJSONError(t, what, hdr, body)
		}
	}

	for _, f := range fields() {
		payloads := injections
		if f.path(r, own) == "/v1/users" || f.path(r, own) == "/v1/sessions" {
			// Each of these costs an argon2id hash: a few of each kind.
			payloads = hashed
		}
		for _, p := range payloads {
			what := fmt.Sprintf("%s %s field %s = %q", f.method, f.path(r, own), f.name, p)
			q := request{method: f.method, path: f.path(r, own), body: jsonBody(f.body(r, own, p))}
			code, hdr, body := r.send(q, r.people[f.as].token)
			judge(what, code, hdr, body)
			if code == s201 && f.path(r, own) == "/v1/users" {
				registered++
			}
			// Stored text comes back as it was sent.
			if code < 300 && f.name == "content" && strings.HasPrefix(f.path(r, own), "/v1/posts") && !strings.HasSuffix(f.path(r, own), "/comments") {
				var got struct {
					Content string `json:"content"`
				}
				if err := json.Unmarshal(body, &got); err != nil || got.Content != p {
					t.Errorf("%s: stored content %q, sent %q", what, got.Content, p)
				}
			}
		}
	}
	for _, qp := range queries {
		for _, param := range qp.params {
			for _, p := range injections {
				path := qp.path(r, own)
				path += sep(path) + param + "=" + url.QueryEscape(p)
				if param != "q" && strings.HasPrefix(path, "/v1/search") {
					path += "&q=hello"
				}
				code, hdr, body := r.send(request{method: "GET", path: path}, r.people[qp.as].token)
				judge("GET "+path, code, hdr, body)
			}
		}
	}
	// Ids in paths: every endpoint with a parameter, as its owner.
	for _, rw := range matrix() {
		if !strings.Contains(rw.pattern, "{") || strings.Contains(rw.pattern, "{key...}") || rw.want[anon] != s401 {
			continue
		}
		method, pattern, _ := strings.Cut(rw.pattern, " ")
		for _, p := range injections {
			path := pattern[:strings.Index(pattern, "{")] + url.PathEscape(p) + pattern[strings.Index(pattern, "}")+1:]
			q := request{method: method, path: path}
			if method == "POST" || method == "PATCH" {
				q.body = []byte(`{}`)
			}
			code, hdr, body := r.send(q, r.people[owner].token)
			judge(method+" "+path, code, hdr, body)
		}
	}

	after := r.tableCounts()
	for table, n := range before {
		m, ok := after[table]
		switch {
		case !ok:
			t.Errorf("table %s is gone", table)
		case table == "moderation_queue":
			// The admin's first valid decision takes the post off the
			// queue, as it should.
		case m < n:
			t.Errorf("table %s lost rows: %d → %d", table, n, m)
		}
	}
	if got := after["users"] - before["users"]; got != registered {
		t.Errorf("users grew by %d, but %d registrations succeeded", got, registered)
	}
}

// Path traversal on the media file route, the one route that serves
// files: no spelling of ../, no absolute path, no encoded slash, NUL or
// overlong UTF-8 reaches the secret planted beside the media directory.
func mediaPathTraversal(t *testing.T, r *secRig) {
	dir, file := filepath.Split(r.mediaKey) // media/<owner>/<id>/ original.png
	up := strings.Repeat("../", strings.Count(r.mediaKey, "/")+1)
	enc := strings.Repeat("%2e%2e%2f", strings.Count(r.mediaKey, "/")+1)
	targets := []string{
		"../secret.txt", "../../secret.txt", "../../../../../../secret.txt",
		"media/../../secret.txt", dir + up + "secret.txt", r.mediaKey + "/" + up + "secret.txt",
		"%2e%2e/secret.txt", "%2e%2e%2fsecret.txt", "..%2fsecret.txt", "..%2Fsecret.txt", ".%2e/secret.txt",
		dir + enc + "secret.txt", dir + "..%2f..%2f..%2f..%2fsecret.txt",
		"%252e%252e%252fsecret.txt", "..%5csecret.txt", `..\secret.txt`, "%c0%ae%c0%ae/secret.txt",
		"/etc/passwd", "%2fetc%2fpasswd", "//etc/passwd", "file:///etc/passwd", "C:%5cWindows%5cwin.ini",
		r.mediaKey + "%00.png", dir + file + "%00", "%00../secret.txt",
		dir + "..", dir + ".", ".", "..", "", "%2e", "%2e%2e",
		"media/" + up + "secret.png",
	}
	client := &http.Client{}
	for _, tg := range targets {
		req, err := http.NewRequest("GET", r.base, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Opaque sends the request target byte for byte: no client-side
		// cleaning or re-encoding.
		req.URL.Opaque = "/v1/media/files/" + tg
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("GET /v1/media/files/%s: %v", tg, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte(r.secret)) || bytes.Contains(body, []byte("root:")) {
			t.Errorf("GET /v1/media/files/%s served a file outside the media directory", tg)
		}
		// 405: ServeMux cleaned the path to /v1/media, which takes uploads
		// only.
		if resp.StatusCode != s404 && resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET /v1/media/files/%s: %d, want 404 or 400", tg, resp.StatusCode)
		}
	}
	// The control: the real key is served.
	if code, _, body := r.send(request{method: "GET", path: "/v1/media/files/" + r.mediaURL}, ""); code != s200 || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Fatalf("the stored file answered %d", code)
	}
	// A PNG within the pixel limits that would decode to 318 MB (6300x6300,
	// 16-bit RGBA, ~300 KB deflated) is refused from its header.
	before := r.tableCounts()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "bomb.png")
	_, _ = part.Write(deepPNG(6300))
	_ = w.Close()
	code, _, raw := r.send(request{method: "POST", path: "/v1/media", body: body.Bytes(), contentType: w.FormDataContentType()},
		r.people[owner].token)
	if code != http.StatusRequestEntityTooLarge || !bytes.Contains(raw, []byte(`"payload_too_large"`)) {
		t.Fatalf("hostile PNG = %d %s", code, raw)
	}
	if after := r.tableCounts(); !equalCounts(before, after) {
		t.Errorf("the hostile PNG wrote rows: before %v, after %v", before, after)
	}
}

// An oversized JSON body is refused with 413 in the JSON error format and
// writes nothing, whether or not it announces its length; so is an
// oversized upload, which leaves no file behind.
func oversizedBodies(t *testing.T, r *secRig) {
	tok := r.people[other].token
	before := r.tableCounts()
	huge := strings.Repeat("a", 4<<20)
	bodies := []struct {
		path string
		body []byte
	}{
		{"/v1/posts", jsonBody(map[string]any{"content": huge})},
		{"/v1/users", jsonBody(map[string]any{"username": "big", "email": "big@example.com", "password": huge})},
		{"/v1/sessions", jsonBody(map[string]any{"username": "big", "password": huge})},
		{"/v1/conversations", jsonBody(map[string]any{"participant_ids": []string{r.friend.id.String()}, "title": huge})},
		{"/v1/posts/" + r.publicPost + "/comments", jsonBody(map[string]any{"content": huge})},
	}
	for _, b := range bodies {
		for _, chunked := range []bool{false, true} {
			var rd io.Reader = bytes.NewReader(b.body)
			if chunked {
				rd = io.MultiReader(rd) // hides the length: sent chunked
			}
			req, _ := http.NewRequest("POST", r.base+b.path, rd)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST %s: %v", b.path, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("POST %s with %d bytes (chunked %v): %d %.200s, want 413", b.path, len(b.body), chunked, resp.StatusCode, raw)
				continue
			}
			checkJSONError(t, "POST "+b.path, resp.Header, raw)
		}
	}
	// An upload past the limit.
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "big.png")
	_, _ = part.Write(pngBytes())
	_, _ = part.Write(make([]byte, 3<<20))
	_ = w.Close()
	code, hdr, raw := r.send(request{method: "POST", path: "/v1/media", body: body.Bytes(), contentType: w.FormDataContentType()}, tok)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized upload: %d %s, want 413", code, raw)
	} else {
		checkJSONError(t, "oversized upload", hdr, raw)
	}
	if after := r.tableCounts(); !equalCounts(before, after) {
		t.Errorf("oversized requests wrote rows: before %v, after %v", before, after)
	}
	var files int
	_ = filepath.WalkDir(r.mediaDir, func(_ string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files != 2 { // the seeded upload and its thumbnail
		t.Errorf("the media directory holds %d files, want the seeded 2", files)
	}
}

// serveLimited serves r's API on a server with httpapi's limits and the
// given read timeout, as a deployment would, and returns its address.
func serveLimited(t *testing.T, r *secRig, read time.Duration) string {
	t.Helper()
	srv, err := httpapi.NewServer(httpapi.ServerConfig{Addr: "127.0.0.1:0", ReadHeaderTimeout: read, ReadTimeout: read},
		r.srv.Handler(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// trickle sends head at once and then body one byte at a time, slowly
// enough that the whole would take hours, until the server answers or
// hangs up. It returns what the server said (possibly nothing) and how
// many body bytes it had sent by then.
func trickle(t *testing.T, addr, head string, body []byte) (answer string, sent int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c) // until the server closes
		got <- string(b)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for sent < len(body) {
		select {
		case a := <-got:
			return a, sent
		case <-tick.C:
			if _, err := c.Write(body[sent : sent+1]); err != nil {
				return <-got, sent
			}
			sent++
		}
	}
	t.Fatalf("the server read all %d bytes of a body sent over hours", len(body))
	return "", sent
}

// A body that arrives too slowly is cut off: an upload by its own
// deadline (MEDIA_UPLOAD_TIMEOUT) with 408, any other request by the
// server's read timeout. Neither writes anything.
func slowBodies(t *testing.T, r *secRig) {
	addr := serveLimited(t, r, 500*time.Millisecond)
	before := r.tableCounts()
	tok := r.people[other].token

	up := uploadRequest("")
	head := "POST /v1/media HTTP/1.1\r\nHost: nova\r\nAuthorization: Bearer " + tok + "\r\nContent-Type: " + up.contentType +
		"\r\n" + fmt.Sprintf("Content-Length: %d", len(up.body)+1<<20) + "\r\n\r\n"
	body := append(up.body[:len(up.body)-100:len(up.body)-100], make([]byte, 1<<20)...)
	answer, sent := trickle(t, addr, head, body)
	if !strings.HasPrefix(answer, "HTTP/1.1 408") && answer != "" {
		t.Errorf("slow upload answered %.300q, want 408 or a closed connection", answer)
	}
	t.Logf("slow upload cut off after %d of %d bytes: %.40q", sent, len(body), answer)

	post := jsonBody(map[string]any{"content": strings.Repeat("x", 4000)})
	head = "POST /v1/posts HTTP/1.1\r\nHost: nova\r\nAuthorization: Bearer " + tok + "\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d", len(post)) + "\r\n\r\n"
	answer, sent = trickle(t, addr, head, post)
	if strings.HasPrefix(answer, "HTTP/1.1 2") || strings.HasPrefix(answer, "HTTP/1.1 5") {
		t.Errorf("slow JSON body answered %.300q, want a 4xx or a closed connection", answer)
	}
	if strings.Contains(answer, "127.0.0.1") {
		t.Errorf("slow JSON body's answer names addresses: %q", answer)
	}
	t.Logf("slow JSON body cut off after %d of %d bytes: %.40q", sent, len(post), answer)

	if after := r.tableCounts(); !equalCounts(before, after) {
		t.Errorf("slow requests wrote rows: before %v, after %v", before, after)
	}
}

// TestHostileInput runs the attacks that need no particular state on one
// nova-api: hostile tokens first (they check that nothing at all
// changed), then the rest.
func TestHostileInput(t *testing.T) {
	r := newSecRig(t, nil)
	for _, c := range []struct {
		name string
		run  func(*testing.T, *secRig)
	}{
		{"hostile tokens", hostileTokens},
		{"media path traversal", mediaPathTraversal},
		{"token of an unknown user", unknownUser},
		{"injection payloads", injectionPayloads},
		{"invalid UTF-8", invalidUTF8},
		{"security headers", securityHeaders},
	} {
		t.Run(c.name, func(t *testing.T) {
			r.t = t
			defer func(parent *testing.T) { r.t = parent }(r.t)
			c.run(t, r)
		})
	}
}

// TestOversizedAndSlowRequests runs on a nova-api with small upload
// limits and a short upload deadline.
func TestOversizedAndSlowRequests(t *testing.T) {
	r := newSecRig(t, map[string]string{
		"MEDIA_MAX_IMAGE_BYTES": "65536", "MEDIA_MAX_VIDEO_BYTES": "65536", "MEDIA_MAX_AUDIO_BYTES": "65536",
		"MEDIA_UPLOAD_TIMEOUT": "300ms",
	})
	t.Run("oversized bodies", func(t *testing.T) { r.t = t; oversizedBodies(t, r) })
	t.Run("slow bodies", func(t *testing.T) { r.t = t; slowBodies(t, r) })
	r.t = t
}

// invalidUTF8: bytes that are not text, in a query, a path or a JSON body,
// and JSON bodies that readers would take differently (a member twice, a
// member named in another case) are a 400 with the JSON error body and change nothing (a search for %ff
// was a PostgreSQL error, a 500).
func invalidUTF8(t *testing.T, r *secRig) {
	o := r.people[other]
	before := r.tableCounts()
	for _, q := range []request{
		{method: "GET", path: "/v1/search?q=%ff"},
		{method: "GET", path: "/v1/search?type=users&q=caf%e9"},
		{method: "GET", path: "/v1/users/%ff%fe"},
		{method: "POST", path: "/v1/posts", body: []byte("{\"content\":\"caf\xe9\"}")},
		{method: "PATCH", path: "/v1/users/me", body: []byte("{\"display_name\":\"\xff\xfe\"}")},
		// JSON that readers take differently: a member twice, or a
		// member's name in another case.
		{method: "POST", path: "/v1/posts", body: []byte(`{"content":"shown","content":"stored"}`)},
		{method: "POST", path: "/v1/posts", body: []byte(`{"Content":"hi"}`)},
		{method: "PATCH", path: "/v1/users/me", body: []byte(`{"display_name":"a","DISPLAY_NAME":"b"}`)},
	} {
		what := q.method + " " + q.path
		code, hdr, body := r.send(q, o.token)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", what, code, body)
			continue
		}
		checkJSONError(t, what, hdr, body)
	}
	if after := r.tableCounts(); !reflect.DeepEqual(before, after) {
		t.Errorf("invalid UTF-8 changed the tables: %v → %v", before, after)
	}
}

// securityHeaders: every answer, an error or not, forbids framing and
// sniffing and sends no Referer; HSTS goes out once TLS is in front.
func securityHeaders(t *testing.T, r *secRig) {
	o := r.people[other]
	for _, q := range []request{{method: "GET", path: "/v1/feed"}, {method: "GET", path: "/v1/nowhere"},
		{method: "GET", path: "/v1/feed", header: http.Header{"X-Forwarded-Proto": {"https"}}}} {
		_, hdr, _ := r.send(q, o.token)
		if !strings.Contains(hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s %s: headers %v", q.method, q.path, hdr)
		}
		if tlsFront := q.header != nil; (hdr.Get("Strict-Transport-Security") != "") != tlsFront {
			t.Errorf("%s %s (behind TLS: %v): Strict-Transport-Security %q", q.method, q.path, tlsFront, hdr.Get("Strict-Transport-Security"))
		}
	}
}
