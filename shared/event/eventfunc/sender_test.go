package eventfunc_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/nova-social/nova/shared/event/eventfunc"
	"github.com/nova-social/nova/shared/event/eventfunc/eventfunctest"
	"github.com/nova-social/nova/shared/event/sender"
	"github.com/nova-social/nova/shared/lifecycle"
)

// witness remembers the identity each event it took came with.
type witness struct {
	mu  sync.Mutex
	ids []sender.Identity
}

func (w *witness) Receive(ctx context.Context, _ event.Event) error {
	id, _ := sender.FromContext(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ids = append(w.ids, id)
	return nil
}
func (w *witness) Ping(context.Context) error  { return nil }
func (w *witness) Close(context.Context) error { return nil }

func (w *witness) taken() []sender.Identity {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]sender.Identity(nil), w.ids...)
}

func newWitness(w *witness) *eventfunc.Function[*witness] {
	return eventfunc.New("witness", func(map[string]string, *slog.Logger) (lifecycle.Open[*witness], error) {
		return func(context.Context) (*witness, error) { return w, nil }, nil
	})
}

// Only a token the issuer signed, for this function's audience, of a
// sender its policy names, gets an event through; everything else is
// refused before the body is read, with the reason, and Receive never
// runs.
func TestSendersAreAuthenticated(t *testing.T) {
	w := &witness{}
	fn := eventfunctest.Serve(t, newWitness(w), nil)
	if fn.Audience != "nova/witness" {
		t.Fatalf("audience %q", fn.Audience)
	}
	stranger := sender.Ref{Kind: sender.KindKafkaSource, Name: "stranger"}
	wrongAud := *fn
	wrongAud.Audience = "nova/feed-fanout"
	forged := eventfunctest.NewIssuer(t) // same claims, a key the function never trusted
	for _, c := range []struct {
		name   string
		send   func() (int, string)
		status int
		code   string
	}{
		{"no token", func() (int, string) { return fn.As(sender.Ref{}).Send(t, sample("ok")) }, http.StatusUnauthorized, eventfunc.CodeUnauthenticated},
		{"another audience", func() (int, string) { return wrongAud.Send(t, sample("ok")) }, http.StatusUnauthorized, eventfunc.CodeUnauthenticated},
		{"another issuer", func() (int, string) {
			return eventfunctest.Post(t, fn.URL, http.Header{
				"Authorization":  {"Bearer " + forged.Token(t, eventfunctest.DefaultSender, fn.Audience)},
				"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/x"}, "Ce-Type": {"t"},
			}, "")
		}, http.StatusUnauthorized, eventfunc.CodeUnauthenticated},
		{"basic auth", func() (int, string) {
			return eventfunctest.Post(t, fn.URL, http.Header{"Authorization": {"Basic YTpi"}}, "")
		}, http.StatusUnauthorized, eventfunc.CodeUnauthenticated},
		{"a sender the policy does not name", func() (int, string) { return fn.As(stranger).Send(t, sample("ok")) }, http.StatusForbidden, eventfunc.CodeForbidden},
	} {
		status, body := c.send()
		var got struct {
			Error struct{ Code, Message string }
		}
		_ = json.Unmarshal([]byte(body), &got)
		if status != c.status || got.Error.Code != c.code || got.Error.Message == "" {
			t.Errorf("%s: %d %s, want %d with code %s and a reason", c.name, status, body, c.status, c.code)
		}
	}
	if n := len(w.taken()); n != 0 {
		t.Fatalf("%d refused events reached Receive", n)
	}
	if code, body := fn.Send(t, sample("ok")); code != http.StatusOK {
		t.Fatalf("the admitted sender: %d %s", code, body)
	}
	ids := w.taken()
	if len(ids) != 1 || ids[0].Sender != eventfunctest.DefaultSender || ids[0].Subject != eventfunctest.DefaultSender.Subject(eventfunctest.Namespace) {
		t.Fatalf("identities seen by Receive: %+v", ids)
	}
}

// With authentication switched off every request is admitted, without an
// identity.
func TestSendersOff(t *testing.T) {
	w := &witness{}
	url := eventfunctest.ServeEnv(t, newWitness(w), map[string]string{sender.EnvAuth: "off"})
	if code, body := eventfunctest.Send(t, url, sample("ok")); code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	if ids := w.taken(); len(ids) != 1 || ids[0] != (sender.Identity{}) {
		t.Fatalf("identities: %+v", ids)
	}
}
