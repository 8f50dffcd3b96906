package media_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/media"
	"github.com/nova-social/nova/shared/domain/media/mediaurl"
	"github.com/nova-social/nova/shared/domain/session"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/password"
	"github.com/nova-social/nova/shared/testrig"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rig is the media service on a fresh database with the real identity and
// content services beside it (content answers whether a post_id is the
// uploader's), behind the real token verifier.
type rig struct {
	t       testing.TB
	ctx     context.Context
	pool    *pgxpool.Pool
	svc     *media.Service
	content *content.Service
	people  *identity.Service
	signer  *auth.Signer
	store   media.Store
	dir     string // the filesystem store's root, when it is one
	stage   string // the service's temporary directory
	mux     *http.ServeMux
}

type option func(*media.Config)

func newRig(t testing.TB, store media.Store, opts ...option) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	for _, m := range []func(context.Context, *pgxpool.Pool) error{outbox.Migrate, identity.Migrate, content.Migrate, media.Migrate} {
		if err := m(ctx, pool); err != nil {
			t.Fatal(err)
		}
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
	hasher, err := password.New(password.Config{Memory: 8 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	people, err := identity.New(identity.Config{Pool: pool, Outbox: outbox.New(codec), Signer: signer, Hasher: hasher, Logger: quiet(),
		Marks: session.NewMarks(testrig.Redis(t), session.InNamespace(testrig.ID())), Mail: testrig.MailQueue(t, pool, testrig.Mail(t))})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: ctx, pool: pool, people: people, signer: signer, store: store}
	if store == nil {
		r.dir = t.TempDir()
		if r.store, err = media.NewFSStore(r.dir, ""); err != nil {
			t.Fatal(err)
		}
	}
	r.stage = t.TempDir()
	cfg := media.Config{Pool: pool, Outbox: outbox.New(codec), Store: r.store, Logger: quiet(), TempDir: r.stage,
		Posts: media.PostOwnerFunc(func(ctx context.Context, u id.UserID, p id.PostID) error { return r.content.MustOwn(ctx, u, p) }),
		Audiences: media.AudienceFunc(func(ctx context.Context, m id.MediaID) (mediaurl.Audience, error) {
			return r.content.MediaAudience(ctx, m)
		})}
	for _, o := range opts {
		o(&cfg)
	}
	if r.svc, err = media.New(cfg); err != nil {
		t.Fatal(err)
	}
	if r.content, err = content.New(content.Config{Pool: pool, Outbox: outbox.New(codec), Follows: people, Logger: quiet(), Media: r.svc,
		MediaURLs: r.svc.URLs(), MediaRemover: r.svc}); err != nil {
		t.Fatal(err)
	}
	r.mux = http.NewServeMux()
	r.svc.Mount(r.mux, httpapi.Authenticate(verifier, quiet()))
	r.mux.Handle("/", httpapi.Fallback(r.mux, quiet()))
	return r
}

func (r *rig) user() (id.UserID, string) {
	r.t.Helper()
	name := "u_" + testrig.ID()
	u, err := r.people.Register(r.ctx, identity.Registration{Username: name, Email: name + "@example.com", Password: "correct horse"})
	if err != nil {
		r.t.Fatal(err)
	}
	tok, _, err := r.signer.Issue(auth.Principal{UserID: u.ID, Role: auth.RoleUser})
	if err != nil {
		r.t.Fatal(err)
	}
	return u.ID, tok
}

func (r *rig) post(author id.UserID) string {
	r.t.Helper()
	p, err := r.content.Create(r.ctx, author, content.NewPost{Content: "hello"})
	if err != nil {
		r.t.Fatal(err)
	}
	return p.ID
}

// field is one multipart part; a file when filename is set.
type field struct{ name, filename, value string }

func multipartBody(t testing.TB, fields ...field) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		var (
			pw  io.Writer
			err error
		)
		if f.filename != "" {
			pw, err = w.CreateFormFile(f.name, f.filename)
		} else {
			pw, err = w.CreateFormField(f.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(pw, f.value)
	}
	w.Close()
	return &buf, w.FormDataContentType()
}

func (r *rig) upload(token string, fields ...field) (int, map[string]any) {
	r.t.Helper()
	body, ct := multipartBody(r.t, fields...)
	req := httptest.NewRequest(http.MethodPost, "/v1/media", body)
	req.Header.Set("Content-Type", ct)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		r.t.Fatalf("non-JSON answer %d %q", rec.Code, rec.Body.String())
	}
	return rec.Code, out
}

// get fetches a URL from the rig's server.
func (r *rig) get(url string) *httptest.ResponseRecorder {
	r.t.Helper()
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	return rec
}

// files lists what the filesystem store holds.
func (r *rig) files() []string {
	r.t.Helper()
	var out []string
	filepath.WalkDir(r.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(r.dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func (r *rig) count(query string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.pool.QueryRow(r.ctx, query, args...).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// events returns the MediaUploaded events in the outbox.
func (r *rig) events() []*eventsv1.MediaUploaded {
	r.t.Helper()
	rows, err := r.pool.Query(r.ctx, `SELECT data FROM nova_outbox WHERE type = $1 ORDER BY id`, r.uploadedType())
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	var out []*eventsv1.MediaUploaded
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			r.t.Fatal(err)
		}
		m := &eventsv1.MediaUploaded{}
		if err := protoUnmarshal(data, m); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func (r *rig) uploadedType() string {
	et, ok := catalog.Default().ByMessage(&eventsv1.MediaUploaded{})
	if !ok {
		r.t.Fatal("MediaUploaded is not in the catalogue")
	}
	return et.Type
}

// tempDir is where the service stages uploads.
func (r *rig) tempDir() string { return r.stage }
