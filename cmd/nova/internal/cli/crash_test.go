package cli_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/mail/sink"
	"github.com/nova-social/nova/shared/testrig"
)

// TestRunKilledMidLoadLosesNothing: a whole `nova run` killed with
// SIGKILL while users post and send messages (no drain, no Stop hook, no
// offset committed on the way out: what the OOM killer does to a pod) and
// started again on its data folder loses nothing it acknowledged and
// applies nothing twice. Every post PostgreSQL holds, acknowledged or cut
// off by the kill, reaches each follower's feed once; every message a
// client was told of, or sent again after the kill with the same client
// id, is stored once, in one unbroken sequence; and the outbox, the
// consumer lag and the dead-letter store all end empty. The same load
// stopped cleanly (SIGTERM: drained, offsets committed) is the baseline
// beside which the test logs how long the restarted run takes to drain.
func TestRunKilledMidLoadLosesNothing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { stopMidLoad(t, sig) })
	}
}

// stopMidLoad ends a run with sig under load, starts it again and checks
// what it holds.
func stopMidLoad(t *testing.T, sig syscall.Signal) {
	t.Setenv("RATE_LIMIT_NAMESPACE", "crash-"+testrig.ID())
	for _, v := range []string{"RATE_LIMIT_LOGIN", "RATE_LIMIT_REGISTER", "RATE_LIMIT_WRITE", "RATE_LIMIT_READ"} {
		t.Setenv(v, "100000/1m")
	}
	root := checkout(t)
	dbURL := testrig.PostgresURL(t)
	args := runArgs(t, root, dbURL)
	first := startNova(t, args...)
	first.waitReady(t)
	c := crashClient(t, root)

	ada, bob, cy := c.register("ada"), c.register("bob"), c.register("cy")
	c.must(http.StatusNoContent, "POST", "/v1/users/"+ada.id+"/follow", bob.token, nil)
	c.must(http.StatusNoContent, "POST", "/v1/users/"+ada.id+"/follow", cy.token, nil)
	conv := c.must(http.StatusCreated, "POST", "/v1/conversations", bob.token,
		map[string]any{"participant_ids": []string{ada.id}})["id"].(string)

	// Load until the kill: ada posts, bob sends messages. A request the
	// kill cuts off is not acknowledged; a message is sent again, with
	// its client id, once the run is back.
	var (
		mu         sync.Mutex
		ackedPosts []string
		ackedMsgs  = map[string]bool{}
		unsure     []string // client ids of messages cut off
		why        = map[string]int{}
		stop       = make(chan struct{})
		wg         sync.WaitGroup
		// The kill comes at a random moment of the load.
		postsBefore = 20 + rand.IntN(50)
	)
	// Both stop at a bound, so a feed and a history are read in one page
	// whatever the stop takes.
	const maxPosts, maxMessages = 95, 180
	wg.Go(func() {
		for i := 0; i < maxPosts; i++ {
			select {
			case <-stop:
				return
			default:
			}
			code, out, err := c.call("POST", "/v1/posts", ada.token, map[string]any{
				"content": fmt.Sprintf("post %d before the crash", i), "visibility": "PUBLIC"})
			if err == nil && code == http.StatusCreated {
				mu.Lock()
				ackedPosts = append(ackedPosts, out["id"].(string))
				mu.Unlock()
			}
		}
	})
	wg.Go(func() {
		for i := 0; i < maxMessages; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("crash-%d", i)
			code, _, err := c.call("POST", "/v1/conversations/"+conv+"/messages", bob.token,
				map[string]any{"client_message_id": id, "content": id, "type": "TEXT"})
			mu.Lock()
			if err == nil && code == http.StatusCreated {
				ackedMsgs[id] = true
			} else {
				unsure = append(unsure, id)
				why[fmt.Sprint(code, " ", err)]++
			}
			mu.Unlock()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(ackedPosts)
		mu.Unlock()
		if n >= postsBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d posts acknowledged in 60s, want %d before the kill", n, postsBefore)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	code := first.wait(t, 60*time.Second)
	if sig == syscall.SIGTERM && code != 0 {
		t.Fatalf("exit status %d after SIGTERM:\n%s", code, first.errb)
	}
	close(stop)
	wg.Wait()
	t.Logf("%s with %d posts and %d messages acknowledged, %d messages cut off (%v)", sig, len(ackedPosts), len(ackedMsgs), len(unsure), why)

	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var pending int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM nova_outbox`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s left %d outbox rows unpublished", sig, pending)

	second := startNova(t, args...)
	second.waitReady(t)
	restarted := time.Now()
	c = crashClient(t, root)
	// The clients that were cut off try again, as clients do.
	// 201 if the first try never reached PostgreSQL, 200 (the stored
	// message) if it did.
	for _, id := range unsure {
		code, out, err := c.call("POST", "/v1/conversations/"+conv+"/messages", bob.token,
			map[string]any{"client_message_id": id, "content": id, "type": "TEXT"})
		if err != nil || (code != http.StatusCreated && code != http.StatusOK) {
			t.Fatalf("message %s sent again: %d %v %v", id, code, out, err)
		}
		ackedMsgs[id] = true
	}

	var stored []string
	c.eventually("every post in PostgreSQL in each follower's feed once, the outbox empty", func() (bool, string) {
		stored = c.column(pool, `SELECT id::text FROM posts WHERE author_id = $1`, ada.id)
		var outbox int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM nova_outbox`).Scan(&outbox); err != nil {
			return false, err.Error()
		}
		for _, u := range []crashUser{bob, cy} {
			feed := c.feed(u)
			if len(feed) != len(stored) || !sameSet(feed, stored) {
				return false, fmt.Sprintf("%s's feed holds %d entries, PostgreSQL %d posts; outbox %d", u.name, len(feed), len(stored), outbox)
			}
		}
		return outbox == 0, fmt.Sprintf("outbox %d", outbox)
	})
	for _, id := range ackedPosts {
		if !slices.Contains(stored, id) {
			t.Errorf("post %s was acknowledged before the kill and is not in PostgreSQL", id)
		}
	}

	// Messages: each client id once, sequences 1..n unbroken.
	hist := c.must(http.StatusOK, "GET", "/v1/conversations/"+conv+"/messages?limit=200", bob.token, nil)
	seen := map[string]int{}
	var seqs []int
	for _, it := range hist["items"].([]any) {
		m := it.(map[string]any)
		seen[m["content"].(string)]++
		seqs = append(seqs, int(m["sequence"].(float64)))
	}
	for id := range ackedMsgs {
		if seen[id] != 1 {
			t.Errorf("message %s stored %d times, want once", id, seen[id])
		}
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != i+1 {
			t.Errorf("sequences %v: a gap or a repeat at %d", seqs, i+1)
			break
		}
	}

	c.eventually("consumer lag 0 and no dead letter", func() (bool, string) {
		lag := c.nova(t, "lag")
		var dead int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM dead_letters`).Scan(&dead); err != nil {
			return false, err.Error()
		}
		return dead == 0 && lagZero(lag), fmt.Sprintf("%d dead letters; nova lag:\n%s", dead, lag)
	})
	t.Logf("drained %s after the restart was ready: %d posts in each follower's feed once (%d acknowledged before the kill), %d messages in one sequence, lag 0",
		time.Since(restarted).Round(time.Millisecond), len(stored), len(ackedPosts), len(seqs))
}

// crashUser is a registered, logged-in user.
type crashUser struct{ id, name, token string }

// client talks to a run's nova-api as its users do.
type client struct {
	t    *testing.T
	root string
	api  string
	mail string
	http *http.Client
}

// crashClient reads the running nova run's addresses from its .nova/env.
func crashClient(t *testing.T, root string) *client {
	t.Helper()
	f, err := instance.Read(instance.Path(root))
	if err != nil {
		t.Fatal(err)
	}
	urls, _ := f.Get(instance.FunctionURLs)
	c := &client{t: t, root: root, http: &http.Client{Timeout: 10 * time.Second}}
	for _, fn := range instance.ParseFunctionURLs(urls) {
		if fn.Name == "nova-api" {
			c.api = fn.URL
		}
	}
	c.mail, _ = f.Get(instance.MailDir)
	if c.api == "" || c.mail == "" {
		t.Fatalf("no nova-api address or mail folder in %s", instance.Path(root))
	}
	return c
}

func (c *client) call(method, path, token string, body any) (int, map[string]any, error) {
	req, err := testrig.JSONRequest(context.Background(), method, c.api+path, token, body)
	if err != nil {
		return 0, nil, err
	}
	return testrig.DoJSON(c.http, req)
}

func (c *client) must(want int, method, path, token string, body any) map[string]any {
	c.t.Helper()
	code, out, err := c.call(method, path, token, body)
	if err != nil || code != want {
		c.t.Fatalf("%s %s: %d %v %v, want %d", method, path, code, out, err, want)
	}
	return out
}

// register signs name up with the code mailed to it and logs in.
func (c *client) register(name string) crashUser {
	c.t.Helper()
	name = name + "_" + testrig.ID()[:6]
	email, password := name+"@example.com", "correct horse battery staple"
	c.must(http.StatusAccepted, "POST", "/v1/users", "", map[string]any{"username": name, "email": email, "password": password})
	var code string
	c.eventually("the sign-up mail to "+email, func() (bool, string) {
		msgs, err := sink.ReadDir(c.mail, email)
		if err != nil || len(msgs) == 0 {
			return false, fmt.Sprintf("%d mails (%v)", len(msgs), err)
		}
		// The address is new: its first mail is the code's.
		var ok bool
		code, ok = identity.CodeFromMail(msgs[0].Text)
		return ok, "no code in " + msgs[0].Subject
	})
	u := c.must(http.StatusCreated, "POST", "/v1/users/verification", "", map[string]any{"code": code})
	s := c.must(http.StatusOK, "POST", "/v1/sessions", "", map[string]any{"username": name, "password": password})
	return crashUser{id: u["id"].(string), name: name, token: s["token"].(string)}
}

// feed is u's home feed, post ids.
func (c *client) feed(u crashUser) []string {
	c.t.Helper()
	out := c.must(http.StatusOK, "GET", "/v1/feed?limit=100", u.token, nil)
	var ids []string
	items, _ := out["items"].([]any)
	for _, it := range items {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

func (c *client) column(pool *pgxpool.Pool, sql string, args ...any) []string {
	c.t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		c.t.Fatal(err)
	}
	return out
}

// nova runs a nova tool in the checkout, as a user in another terminal.
func (c *client) nova(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(testrig.NovaBinary(t), args...)
	cmd.Dir = c.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s: %v", out, err)
	}
	return string(out)
}

func (c *client) eventually(what string, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: still not so after 90s; last seen: %s", what, seen)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// lagZero reads `nova lag`'s output: true when it lists groups, none
// with an error, and each group's total lag is 0.
func lagZero(out string) bool {
	groups := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "error:") {
			return false
		}
		if _, total, ok := strings.Cut(line, ": total lag "); ok {
			groups++
			if strings.TrimSpace(total) != "0" {
				return false
			}
		}
	}
	return groups > 0
}
