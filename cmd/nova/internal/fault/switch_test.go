package fault_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/fault"
)

func TestSwitchFailsAndHeals(t *testing.T) {
	sw := fault.NewSwitch()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "done") })
	fanout := httptest.NewServer(sw.Middleware("feed-fanout", ok))
	defer fanout.Close()
	other := httptest.NewServer(sw.Middleware("notifier", ok))
	defer other.Close()

	status := func(url string) int {
		t.Helper()
		resp, err := http.Post(url, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(fanout.URL + "/"); got != http.StatusOK {
		t.Fatalf("healthy: %d", got)
	}
	sw.Fail("feed-fanout", http.StatusInternalServerError)
	if got := status(fanout.URL + "/"); got != http.StatusInternalServerError {
		t.Fatalf("failing: %d", got)
	}
	if got := status(fanout.URL + "/health/readiness"); got != http.StatusOK {
		t.Fatalf("probe of a failing function: %d, want 200", got)
	}
	if got := status(other.URL + "/"); got != http.StatusOK {
		t.Fatalf("other function while feed-fanout fails: %d", got)
	}
	sw.Heal("feed-fanout")
	if got := status(fanout.URL + "/"); got != http.StatusOK {
		t.Fatalf("healed: %d", got)
	}
	if n := sw.Injected("feed-fanout"); n != 1 {
		t.Fatalf("injected %d, want 1", n)
	}
}

func TestSwitchLosesAnswersAfterTheWork(t *testing.T) {
	sw := fault.NewSwitch()
	var done atomic.Int64
	work := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done.Add(1)
		io.WriteString(w, "done")
	})
	srv := httptest.NewServer(sw.Middleware("chat-push", work))
	defer srv.Close()
	sw.LoseAnswers("chat-push", http.StatusInternalServerError)
	resp, err := http.Post(srv.URL+"/", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "done") {
		t.Fatalf("lost answer: %d %q, want 500 without the handler's body", resp.StatusCode, body)
	}
	if done.Load() != 1 {
		t.Fatalf("the work ran %d times, want 1", done.Load())
	}
}
