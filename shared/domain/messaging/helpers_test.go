package messaging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// rig is a messaging service on a fresh database with its endpoints behind
// the real token verifier.
type rig struct {
	t      testing.TB
	ctx    context.Context
	pool   *pgxpool.Pool
	svc    *messaging.Service
	codec  *envelope.Codec
	signer *auth.Signer
	mux    *http.ServeMux
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRig(t testing.TB, tune func(*messaging.Config)) *rig {
	t.Helper()
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := outbox.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := messaging.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// Migrating twice (nova-api and chat-persist both do) is harmless.
	if err := messaging.Migrate(ctx, pool); err != nil {
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
	cfg := messaging.Config{Pool: pool, Outbox: outbox.New(codec), Logger: quiet()}
	if tune != nil {
		tune(&cfg)
	}
	svc, err := messaging.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Mount(mux, httpapi.Authenticate(verifier, quiet()))
	mux.Handle("/", httpapi.Fallback(mux, quiet()))
	return &rig{t: t, ctx: ctx, pool: pool, svc: svc, codec: codec, signer: signer, mux: mux}
}

func (r *rig) token(u id.UserID) string {
	r.t.Helper()
	tok, _, err := r.signer.Issue(auth.Principal{UserID: u, Role: auth.RoleUser})
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

// call sends a request as u with body (nil for none) and decodes the JSON
// answer into out when out is not nil.
func (r *rig) call(method, path string, u id.UserID, body any, out any) int {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+r.token(u))
	w := httptest.NewRecorder()
	r.mux.ServeHTTP(w, req)
	if out != nil && w.Code < 300 {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			r.t.Fatalf("%s %s: body %q: %v", method, path, w.Body.Bytes(), err)
		}
	}
	return w.Code
}

// errorCode is the code of a JSON error answer.
func (r *rig) errorCode(method, path string, u id.UserID, body any) (int, string) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.token(u))
	w := httptest.NewRecorder()
	r.mux.ServeHTTP(w, req)
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	return w.Code, e.Error.Code
}

func (r *rig) open(creator id.UserID, others ...id.UserID) messaging.Conversation {
	r.t.Helper()
	var c messaging.Conversation
	if code := r.call("POST", "/v1/conversations", creator, map[string]any{"participant_ids": others}, &c); code != http.StatusCreated && code != http.StatusOK {
		r.t.Fatalf("open conversation: %d", code)
	}
	return c
}

func (r *rig) send(sender id.UserID, conv, clientID, content string) (messaging.Message, int) {
	r.t.Helper()
	var m messaging.Message
	code := r.call("POST", "/v1/conversations/"+conv+"/messages", sender,
		map[string]any{"client_message_id": clientID, "content": content, "type": "TEXT"}, &m)
	return m, code
}

// sent returns the MessageSent events in the outbox, in outbox order.
func (r *rig) sent() []*eventsv1.MessageSent {
	r.t.Helper()
	rows, err := r.pool.Query(r.ctx, `SELECT topic, key, event_id, source, type, coalesce(subject, ''),
		coalesce(datacontenttype, ''), coalesce(dataschema, ''), data FROM `+outbox.Table+` ORDER BY id`)
	if err != nil {
		r.t.Fatal(err)
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*eventsv1.MessageSent, error) {
		var topic, key, evID, src, typ, subj, ct, schema string
		var data []byte
		if err := row.Scan(&topic, &key, &evID, &src, &typ, &subj, &ct, &schema, &data); err != nil {
			return nil, err
		}
		e := cloudevents.NewEvent()
		e.SetID(evID)
		e.SetSource(src)
		e.SetType(typ)
		e.SetSubject(subj)
		e.SetDataSchema(schema)
		if err := e.SetData(ct, data); err != nil {
			return nil, err
		}
		d, err := r.codec.Decode(e)
		if err != nil {
			return nil, err
		}
		m := d.Message.(*eventsv1.MessageSent)
		if topic != catalog.MessagingEvents || key != m.ConversationId || subj != m.ConversationId || src != "/nova/"+catalog.MessagingService {
			r.t.Errorf("event %s: topic %q key %q subject %q source %q", evID, topic, key, subj, src)
		}
		return m, nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}
