package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	deadletter "github.com/nova-social/nova/functions/dead-letter/store"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nova-social/nova/shared/domain/presence"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// socket is a user's websocket on the realtime gateway.
type socket struct {
	t  testing.TB
	ws *websocket.Conn
}

// gatewayURL is the websocket address of the realtime gateway.
func (r *rig) gatewayURL() string {
	r.t.Helper()
	u, ok := r.sys.FunctionURL("realtime-gateway")
	if !ok {
		r.t.Fatal("realtime-gateway is not running")
	}
	return "ws" + strings.TrimPrefix(u, "http") + "/v1/realtime"
}

// dial opens u's websocket with its token in the Authorization header.
func (r *rig) dial(u user) *websocket.Conn {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, r.gatewayURL(), &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + u.Token}}})
	if err != nil {
		r.t.Fatalf("connect %s: %v (%v)", u.Name, err, resp)
	}
	ws.SetReadLimit(1 << 20)
	return ws
}

// connect opens u's websocket and waits for the hello frame, after which u
// counts as online.
func (r *rig) connect(u user) *socket {
	r.t.Helper()
	s := &socket{t: r.t, ws: r.dial(u)}
	r.t.Cleanup(func() { s.ws.CloseNow() })
	if f := s.next(); f["type"] != "hello" || f["user_id"] != u.ID {
		r.t.Fatalf("first frame of %s: %v", u.Name, f)
	}
	return s
}

// next reads the next frame.
func (s *socket) next() map[string]any {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, data, err := s.ws.Read(ctx)
	if err != nil {
		s.t.Fatalf("read frame: %v", err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		s.t.Fatalf("frame %q: %v", data, err)
	}
	return f
}

// nextMessage skips frames until a pushed message and returns it.
func (s *socket) nextMessage() map[string]any {
	s.t.Helper()
	for {
		if f := s.next(); f["type"] == "message" {
			return f["message"].(map[string]any)
		}
	}
}

func (s *socket) send(v any) {
	s.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.ws.Write(ctx, websocket.MessageText, b); err != nil {
		s.t.Fatalf("write frame: %v", err)
	}
}

func (r *rig) sendHTTP(u user, conv, clientID, content string) map[string]any {
	r.t.Helper()
	return r.must(http.StatusCreated, "POST", "/v1/conversations/"+conv+"/messages", u.Token,
		map[string]any{"client_message_id": clientID, "content": content, "type": "TEXT"})
}

// history returns "sequence:content" of every message of conv as u sees it.
func (r *rig) history(u user, conv string) []string {
	r.t.Helper()
	out := r.must(http.StatusOK, "GET", "/v1/conversations/"+conv+"/messages?limit=200", u.Token, nil)
	var got []string
	for _, it := range out["items"].([]any) {
		m := it.(map[string]any)
		got = append(got, fmt.Sprintf("%v:%v", m["sequence"], m["content"]))
	}
	return got
}

func TestChatEndToEnd(t *testing.T) {
	r := start(t)
	a, b, eve := r.register("alice"), r.register("bob"), r.register("eve")
	conv := r.must(http.StatusCreated, "POST", "/v1/conversations", a.Token,
		map[string]any{"participant_ids": []string{b.ID}})["id"].(string)

	wsA, wsB := r.connect(a), r.connect(b)

	// A sends by HTTP, then types on the websocket; B receives both, in order.
	sent := r.sendHTTP(a, conv, "http-1", "sent by HTTP")
	if sent["sequence"] != float64(1) {
		t.Fatalf("first message %v", sent)
	}
	wsA.send(map[string]any{"type": "message", "conversation_id": conv, "client_message_id": "ws-1",
		"content": "typed on the websocket", "message_type": "TEXT"})
	if ack := wsA.next(); ack["type"] != "ack" || ack["client_message_id"] != "ws-1" {
		t.Fatalf("A's ack: %v", ack)
	}
	for i, want := range []string{"sent by HTTP", "typed on the websocket"} {
		m := wsB.nextMessage()
		if m["content"] != want || m["sequence"] != float64(i+1) || m["sender_id"] != a.ID || m["conversation_id"] != conv {
			t.Fatalf("B's message %d: %v, want %q", i+1, m, want)
		}
	}
	// A retry of the typed message by HTTP is the same message.
	again := r.must(http.StatusOK, "POST", "/v1/conversations/"+conv+"/messages", a.Token,
		map[string]any{"client_message_id": "ws-1", "content": "typed on the websocket"})
	if again["sequence"] != float64(2) {
		t.Fatalf("retry stored again: %v", again)
	}

	// B goes away; A writes again.
	wsB.ws.Close(websocket.StatusNormalClosure, "bye")
	ps, err := presence.New(testrig.Redis(t), presence.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	r.eventually("bob offline", func() (bool, string) {
		on, err := ps.Online(context.Background(), id.UserID(b.ID))
		return err == nil && !on, fmt.Sprint(on, err)
	})
	r.sendHTTP(a, conv, "http-2", "while you were away")

	t.Run("offline recipient is notified", func(t *testing.T) {
		r.eventually("a MESSAGE notification for bob", func() (bool, string) {
			out := r.must(http.StatusOK, "GET", "/v1/notifications", b.Token, nil)
			for _, it := range out["items"].([]any) {
				n := it.(map[string]any)
				if n["kind"] == "MESSAGE" && n["subject_id"] == conv {
					return true, ""
				}
			}
			return false, fmt.Sprint(out["items"])
		})
	})

	// B comes back and reads the history in order.
	r.connect(b)
	want := []string{"1:sent by HTTP", "2:typed on the websocket", "3:while you were away"}
	r.eventually("bob's history", func() (bool, string) {
		got := r.history(b, conv)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprint(got)
	})

	// Eve can neither read nor write, nor learn the conversation exists.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/conversations/" + conv, nil},
		{"GET", "/v1/conversations/" + conv + "/messages", nil},
		{"POST", "/v1/conversations/" + conv + "/messages", map[string]any{"client_message_id": "eve-1", "content": "let me in"}},
		{"GET", "/v1/conversations/" + id.NewConversationID().String() + "/messages", nil},
	} {
		code, out := r.call(c.method, c.path, eve.Token, c.body)
		if code != http.StatusNotFound {
			t.Errorf("eve %s %s: %d %v, want 404", c.method, c.path, code, out)
		}
	}
	// refusedAtGateway types a message as u and requires the gateway to
	// refuse it on the socket: nothing reaches Kafka, chat-persist or the
	// dead-letter store, and the history stays as it was.
	refusedAtGateway := func(t *testing.T, u user, clientID string) {
		t.Helper()
		ws := r.connect(u)
		ws.send(map[string]any{"type": "message", "conversation_id": conv, "client_message_id": clientID, "content": "let me in"})
		if f := ws.next(); f["type"] != "error" || f["code"] != "not_a_participant" || f["client_message_id"] != clientID {
			t.Fatalf("%s's answer: %v, want an error frame not_a_participant", u.Name, f)
		}
		r.settle()
		if got := r.history(a, conv); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after %s's attempt the history is %v", u.Name, got)
		}
		if n := r.metric(`nova_function_requests_total{code="400",function="chat-persist",outcome="rejected"}`); n != 0 {
			t.Errorf("chat-persist rejected %v events: %s's message got past the gateway", n, u.Name)
		}
		entries, err := deadletter.New(r.pool(t)).List(context.Background(), deadletter.Filter{Topic: "realtime-chat"})
		if err != nil || len(entries) != 0 {
			t.Errorf("dead letters from realtime-chat: %d, %v; want none", len(entries), err)
		}
	}
	// Typed on a websocket, her message is refused by the gateway, which
	// asks nova-api (as eve) before taking it.
	t.Run("outsider's typed message is refused at the gateway", func(t *testing.T) { refusedAtGateway(t, eve, "eve-2") })

	// Once alice blocks bob, neither may write to their conversation: a
	// message typed by the one blocked is refused at the gateway too, as
	// if the conversation were not his, and nothing is dead-lettered.
	t.Run("a blocked pair's typed message is refused at the gateway", func(t *testing.T) {
		r.must(http.StatusNoContent, "POST", "/v1/users/"+b.ID+"/block", a.Token, nil)
		for _, u := range []user{a, b} {
			if c := r.must(http.StatusOK, "GET", "/v1/conversations/"+conv, u.Token, nil); c["can_send"] != false {
				t.Fatalf("%s's conversation after the block: can_send %v", u.Name, c["can_send"])
			}
		}
		refusedAtGateway(t, b, "bob-blocked")
	})
}

// metric reads one sample of the runtime's Prometheus endpoint (0 when
// absent).
func (r *rig) metric(series string) float64 {
	r.t.Helper()
	resp, err := http.Get(r.sys.MetricsURL())
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}
