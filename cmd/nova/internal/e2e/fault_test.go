package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/cmd/nova/internal/cli"
	deadletter "github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/pendingmedia"
)

// TestFaultSuite runs Nova's whole event path under failure and counts
// every effect. While users post, follow, send messages (typed on the
// websocket and sent by HTTP) and upload media, it injects, one after the
// other with healthy gaps between:
//
//   - feed-fanout and notifier answering 500 for a while (system.Config.Middleware),
//   - chat-push and notifier doing their work but answering 500, so the
//     dispatcher delivers again what was already applied,
//   - chat-persist and feed-fanout killed and started again on the same address,
//   - Redis "down": a TCP proxy between Nova and the real Redis drops every
//     connection and refuses new ones for a few seconds,
//   - the embedded Kafka (kfake) stopped and started again on its data folder
//     and port,
//   - PostgreSQL "restarted": the same proxy treatment in front of the real
//     PostgreSQL (the shared servers themselves are never stopped),
//   - Kafka's partition leaders and group coordinators moved among the
//     embedded cluster's three nodes, as a rolling restart moves them.
//
// Afterwards, once the outbox is empty and consumer lag is 0, it requires
// that every post sits in exactly the home feeds it belongs in (its author's
// and each follower's, no one else's), every message is stored once and
// reached the recipient's websocket once, every follow gave one FOLLOW
// notification, every accepted upload is stored and its MediaUploaded
// handled once (attached to its post, or pending), and nothing is in the
// dead-letter store. What was written but not acknowledged to the client
// (a commit whose answer the fault cut off) counts like anything else: the
// truth is what PostgreSQL holds.
//
// The suite prints a report of what it injected and what it counted (with
// -v, or on failure), and writes it to the file NOVA_FAULT_REPORT names (make
// test sets it and prints the file). The default is one round of about half
// a minute; NOVA_FAULT_LONG=1 repeats rounds, each with new users, for
// NOVA_FAULT_DURATION (default 5m), and watches for leaks (fault_soak_test.go:
// memory, goroutines, open files and PostgreSQL connections sampled every
// NOVA_FAULT_SAMPLE, required flat after NOVA_FAULT_WARMUP, plotted), e.g.
//
//	cd cmd/nova && NOVA_FAULT_LONG=1 NOVA_FAULT_DURATION=10m go test -race -run TestFaultSuite -v -timeout 30m ./internal/e2e/
func TestFaultSuite(t *testing.T) {
	duration, long := time.Duration(0), os.Getenv("NOVA_FAULT_LONG") != ""
	if long {
		duration = 5 * time.Minute
		if v := os.Getenv("NOVA_FAULT_DURATION"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("NOVA_FAULT_DURATION=%q: %v", v, err)
			}
			duration = d
		}
	}
	r := startFaulty(t)
	rep := &faultReport{started: time.Now(), long: long}
	t.Cleanup(func() { rep.emit(t) })
	if long {
		rep.soak = startSoak(t, r)
	}

	for round := 1; ; round++ {
		res := runRound(t, r, rep, round)
		rep.rounds = append(rep.rounds, res)
		if t.Failed() || !long || time.Since(rep.started) >= duration {
			break
		}
	}
	if rep.soak != nil {
		rep.soak.finish(t)
	}
	rep.spread = r.spread(t)
	rep.dlq = r.deadLetters(t)
	if n := len(rep.dlq); n != 0 {
		t.Errorf("%d events in the dead-letter store (%d entries, one per consumer that failed one), want 0",
			len(cli.GroupDeadLetters(rep.dlq)), n)
	}
}

// injection is one fault as the report shows it.
type injection struct {
	fault   string
	at, dur time.Duration // since the round's workload began
	err     error
}

type roundResult struct {
	n          int
	injections []injection
	workload   time.Duration
	drain      time.Duration
	c          counts
	issued     issued
}

// issued is what the clients did and were told.
type issued struct {
	postsAcked, postsFailed       int
	follows, followAttempts       int
	typed, typedAttempts          int
	httpMsgs, httpMsgAttempts     int
	uploadsAcked, uploadsFailed   int
	pendingAcked, pendingFailed   int
	givenUp                       []string
	ackedPosts                    map[string]bool
	ackedTyped, ackedHTTP         map[string]bool // client message ids
	ackedUploads, ackedPendingIDs map[string]string
}

// counts is what the system holds afterwards.
type counts struct {
	posts, expectedEntries, foundEntries int
	missing, unexpected, duplicated      []string
	lostPosts                            []string

	msgStored, msgDupStored int
	msgDelivered            int
	msgMissing, msgDup      []string
	lostMessages            []string
	socketErrs              []string

	follows, followNotified int
	notifyWrong             []string
	messageNotifications    int

	uploads, uploadsHandled int
	uploadWrong             []string

	outbox  int
	lag     int64
	lagging []string // source/topic/partition with lag
}

func (c counts) clean() bool {
	return c.expectedEntries == c.foundEntries && len(c.missing)+len(c.unexpected)+len(c.duplicated)+len(c.lostPosts) == 0 &&
		len(c.msgMissing)+len(c.msgDup)+len(c.lostMessages)+c.msgDupStored == 0 && c.msgDelivered == c.msgStored &&
		len(c.notifyWrong) == 0 && c.follows == c.followNotified && c.messageNotifications == 0 &&
		c.uploads == c.uploadsHandled && len(c.uploadWrong) == 0 && c.outbox == 0 && c.lag == 0
}

// roundUsers is one round's cast.
type roundUsers struct {
	all      []user // posters, in a ring of follows
	pender   user   // uploads without a post, never posts
	convA    string // all[0] → all[1], typed on the websocket
	convB    string // all[2] → all[3], sent by HTTP
	sockets  map[string]*liveSocket
	planned  [][2]int // follows made during the faults
	uploader int      // index in all of the user uploading for posts
}

func runRound(t *testing.T, r *faultRig, rep *faultReport, round int) roundResult {
	t.Helper()
	res := roundResult{n: round}
	cast := setUp(t, r)

	wctx, stopWork := context.WithCancel(context.Background())
	// Retries of idempotent calls outlive the workload by a grace period,
	// so a message or follow the clients started is finished.
	grace, cancelGrace := context.WithCancel(context.Background())
	defer cancelGrace()
	began := time.Now()
	var wg sync.WaitGroup
	is := &issued{ackedPosts: map[string]bool{}, ackedTyped: map[string]bool{}, ackedHTTP: map[string]bool{},
		ackedUploads: map[string]string{}, ackedPendingIDs: map[string]string{}}
	var mu sync.Mutex
	workload(wctx, grace, &wg, &mu, r, cast, is)

	res.injections = injectFaults(t, r, began)
	// A last healthy stretch with traffic, then the clients stop.
	select {
	case <-time.After(time.Second):
	case <-wctx.Done():
	}
	stopWork()
	graceDone := make(chan struct{})
	go func() { wg.Wait(); close(graceDone) }()
	select {
	case <-graceDone:
	case <-time.After(90 * time.Second):
		cancelGrace()
		<-graceDone
	}
	res.workload = time.Since(began)
	res.issued = *is

	// Drain: everything the clients caused is applied, or the deadline
	// says what is not.
	drainStart := time.Now()
	deadline := drainStart.Add(120 * time.Second)
	for {
		res.c = r.count(t, cast, is)
		if res.c.clean() || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	res.drain = time.Since(drainStart)
	c := res.c
	if !c.clean() {
		// What is stuck, if anything is, shows in the goroutines.
		dump := filepath.Join(os.TempDir(), "nova-fault-goroutines.txt")
		if f, err := os.Create(dump); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(f, 1)
			f.Close()
		} else {
			dump = "not written: " + err.Error()
		}
		t.Errorf("round %d not clean after %s of draining (see the report; goroutines: %s)", round, res.drain.Round(time.Millisecond), dump)
	}
	for _, g := range is.givenUp {
		t.Errorf("round %d: a client gave up: %s", round, g)
	}
	return res
}

// setUp registers the round's users while the system is healthy: a ring
// where each follows the next two, two conversations with their sockets.
func setUp(t *testing.T, r *faultRig) roundUsers {
	t.Helper()
	var cast roundUsers
	for i := range 6 {
		cast.all = append(cast.all, r.register(fmt.Sprintf("f%d", i)))
	}
	cast.pender = r.register("pender")
	n := len(cast.all)
	for i := range cast.all {
		r.follow(cast.all[i], cast.all[(i+1)%n])
		r.follow(cast.all[i], cast.all[(i+2)%n])
		cast.planned = append(cast.planned, [2]int{i, (i + 3) % n})
	}
	cast.uploader = 5
	conv := func(a, b user) string {
		return r.must(http.StatusCreated, "POST", "/v1/conversations", a.Token,
			map[string]any{"participant_ids": []string{b.ID}})["id"].(string)
	}
	cast.convA, cast.convB = conv(cast.all[0], cast.all[1]), conv(cast.all[2], cast.all[3])
	cast.sockets = map[string]*liveSocket{}
	for _, i := range []int{0, 1, 3} {
		cast.sockets[cast.all[i].ID] = r.live(cast.all[i])
	}
	return cast
}

// workload starts the clients; they stop issuing new work when wctx ends
// and finish what they started until grace ends.
func workload(wctx, grace context.Context, wg *sync.WaitGroup, mu *sync.Mutex, r *faultRig, cast roundUsers, is *issued) {
	every := func(d time.Duration, step func(i int) bool) {
		wg.Go(func() {
			for i := 0; ; i++ {
				if wctx.Err() != nil || !step(i) {
					return
				}
				select {
				case <-wctx.Done():
					return
				case <-time.After(d):
				}
			}
		})
	}
	lastPost := ""
	// Posts: not idempotent, so never retried; an unanswered one may or may
	// not exist, and PostgreSQL decides.
	every(120*time.Millisecond, func(i int) bool {
		author := cast.all[i%len(cast.all)]
		ctx, cancel := context.WithTimeout(grace, 15*time.Second)
		defer cancel()
		code, out, err := r.try(ctx, "POST", "/v1/posts", author.Token,
			map[string]any{"content": fmt.Sprintf("fault post %d by %s", i, author.Name), "visibility": "PUBLIC"})
		mu.Lock()
		defer mu.Unlock()
		if err == nil && code == http.StatusCreated {
			is.postsAcked++
			is.ackedPosts[out["id"].(string)] = true
			if author.ID == cast.all[cast.uploader].ID {
				lastPost = out["id"].(string)
			}
		} else {
			is.postsFailed++
		}
		return true
	})
	// Follows: retried until done.
	every(2*time.Second, func(i int) bool {
		if i >= len(cast.planned) {
			return false
		}
		a, b := cast.all[cast.planned[i][0]], cast.all[cast.planned[i][1]]
		_, n, err := retry(grace, []int{http.StatusNoContent}, func() (int, map[string]any, error) {
			return r.try(grace, "POST", "/v1/users/"+b.ID+"/follow", a.Token, nil)
		})
		mu.Lock()
		defer mu.Unlock()
		is.followAttempts += n
		if err != nil {
			is.givenUp = append(is.givenUp, fmt.Sprintf("follow %s → %s: %v", a.Name, b.Name, err))
			return false
		}
		is.follows++
		return true
	})
	// Typed messages on the websocket, sent again with the same client id
	// until acknowledged.
	sender := cast.sockets[cast.all[0].ID]
	every(300*time.Millisecond, func(i int) bool {
		cid := fmt.Sprintf("typed-%d", i)
		n, err := sender.typeMessage(grace, cast.convA, cid, "typed "+cid)
		mu.Lock()
		defer mu.Unlock()
		is.typedAttempts += n
		if err != nil {
			is.givenUp = append(is.givenUp, fmt.Sprintf("typed message %s: %v", cid, err))
			return false
		}
		is.typed++
		is.ackedTyped[cid] = true
		return true
	})
	// Messages by HTTP, retried with the same client id until stored.
	every(300*time.Millisecond, func(i int) bool {
		cid := fmt.Sprintf("http-%d", i)
		_, n, err := retry(grace, []int{http.StatusCreated, http.StatusOK}, func() (int, map[string]any, error) {
			return r.try(grace, "POST", "/v1/conversations/"+cast.convB+"/messages", cast.all[2].Token,
				map[string]any{"client_message_id": cid, "content": "sent " + cid, "type": "TEXT"})
		})
		mu.Lock()
		defer mu.Unlock()
		is.httpMsgAttempts += n
		if err != nil {
			is.givenUp = append(is.givenUp, fmt.Sprintf("message %s: %v", cid, err))
			return false
		}
		is.httpMsgs++
		is.ackedHTTP[cid] = true
		return true
	})
	// Uploads: one for the uploader's latest post, one pending, in turn.
	img := photo(r.t.(*testing.T), 64, 48)
	every(600*time.Millisecond, func(i int) bool {
		ctx, cancel := context.WithTimeout(grace, 15*time.Second)
		defer cancel()
		if i%2 == 1 {
			code, out, err := r.tryUpload(ctx, cast.pender, img, "")
			mu.Lock()
			defer mu.Unlock()
			if err == nil && code == http.StatusCreated {
				is.pendingAcked++
				is.ackedPendingIDs[out["id"].(string)] = fmt.Sprint(out["url"])
			} else {
				is.pendingFailed++
			}
			return true
		}
		mu.Lock()
		post := lastPost
		mu.Unlock()
		if post == "" {
			return true
		}
		code, out, err := r.tryUpload(ctx, cast.all[cast.uploader], img, post)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && code == http.StatusCreated {
			is.uploadsAcked++
			is.ackedUploads[out["id"].(string)] = fmt.Sprint(out["url"])
		} else {
			is.uploadsFailed++
		}
		return true
	})
}

// injectFaults plays the fault schedule, one at a time with healthy gaps,
// and returns what it did.
func injectFaults(t *testing.T, r *faultRig, began time.Time) []injection {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pause := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	fail := func(fn string) func(time.Duration) error {
		return func(d time.Duration) error {
			r.sw.Fail(fn, http.StatusInternalServerError)
			pause(d)
			r.sw.Heal(fn)
			return nil
		}
	}
	lose := func(fn string) func(time.Duration) error {
		return func(d time.Duration) error {
			r.sw.LoseAnswers(fn, http.StatusInternalServerError)
			pause(d)
			r.sw.Heal(fn)
			return nil
		}
	}
	kill := func(fn string) func(time.Duration) error {
		return func(d time.Duration) error {
			if err := r.sys.StopFunction(ctx, fn); err != nil {
				return err
			}
			pause(d)
			return r.sys.StartFunction(ctx, fn)
		}
	}
	killOne := func(fn string, i int) func(time.Duration) error {
		return func(d time.Duration) error {
			if err := r.sys.StopReplica(ctx, fn, i); err != nil {
				return err
			}
			pause(d)
			return r.sys.StartReplica(ctx, fn, i)
		}
	}
	outage := func(p interface {
		Down()
		Up()
	}) func(time.Duration) error {
		return func(d time.Duration) error {
			p.Down()
			pause(d)
			p.Up()
			return nil
		}
	}
	moveLeaders := func(times int) func(time.Duration) error {
		return func(d time.Duration) error {
			for range times {
				if err := r.sys.MoveKafkaLeaders(); err != nil {
					return err
				}
				pause(d / time.Duration(times))
			}
			return nil
		}
	}
	schedule := []struct {
		fault string
		dur   time.Duration
		do    func(time.Duration) error
	}{
		{"feed-fanout answers 500", 1500 * time.Millisecond, fail("feed-fanout")},
		{"chat-persist killed, started again", 1500 * time.Millisecond, kill("chat-persist")},
		{"Redis down (proxy cuts and refuses connections)", 3 * time.Second, outage(r.redis)},
		{"Kafka (kfake) stopped, restarted on its data dir and port", 2 * time.Second,
			func(d time.Duration) error { return r.sys.RestartKafka(ctx, d) }},
		{"PostgreSQL restart (proxy cuts and refuses connections)", 3 * time.Second, outage(r.pg)},
		{"Kafka partition leaders and group coordinators moved 4 times (three nodes)", 2 * time.Second, moveLeaders(4)},
		{"feed-fanout killed, started again", 1500 * time.Millisecond, kill("feed-fanout")},
		{"one of two nova-api replicas (and its outbox relay) stopped mid-load, started again", 1500 * time.Millisecond, killOne("nova-api", 1)},
		{"one of two chat-persist replicas stopped, started again", 1500 * time.Millisecond, killOne("chat-persist", 0)},
		{"notifier answers 500", 1500 * time.Millisecond, fail("notifier")},
		{"chat-push does its work, answer lost (500): redelivered", 1500 * time.Millisecond, lose("chat-push")},
		{"notifier does its work, answer lost (500): redelivered", 1500 * time.Millisecond, lose("notifier")},
	}
	var out []injection
	pause(time.Second) // traffic before the first fault
	for _, f := range schedule {
		at := time.Since(began)
		err := f.do(f.dur)
		out = append(out, injection{fault: f.fault, at: at, dur: time.Since(began) - at, err: err})
		if err != nil {
			t.Errorf("inject %q: %v", f.fault, err)
		}
		pause(time.Second)
	}
	return out
}

// count reads what the system holds now, from the real servers.
func (r *faultRig) count(t *testing.T, cast roundUsers, is *issued) counts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c counts
	users := append([]user{cast.pender}, cast.all...)
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	names := map[string]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}

	// Posts and follows as PostgreSQL has them.
	postsBy := map[string][]string{}
	inDB := map[string]bool{}
	rows, err := r.db.Query(ctx, `SELECT id::text, author_id::text FROM posts WHERE author_id::text = ANY($1) AND deleted_at IS NULL`, ids)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, author string
		if err := rows.Scan(&id, &author); err != nil {
			t.Fatal(err)
		}
		postsBy[author] = append(postsBy[author], id)
		inDB[id] = true
		c.posts++
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for id := range is.ackedPosts {
		if !inDB[id] {
			c.lostPosts = append(c.lostPosts, id)
		}
	}
	following := map[string][]string{}
	followers := map[string]int{}
	rows, err = r.db.Query(ctx, `SELECT follower_id::text, followee_id::text FROM follows WHERE follower_id::text = ANY($1)`, ids)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		following[a] = append(following[a], b)
		followers[b]++
		c.follows++
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}

	// Home feeds: the Redis sorted set (exact), and the API's pages (a
	// post shown twice would be a duplicate).
	for _, u := range users {
		want := map[string]bool{}
		for _, p := range postsBy[u.ID] {
			want[p] = true
		}
		for _, f := range following[u.ID] {
			for _, p := range postsBy[f] {
				want[p] = true
			}
		}
		got, err := r.rdb.ZRange(ctx, feed.FeedKey(u.ID), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		c.expectedEntries += len(want)
		has := map[string]bool{}
		for _, p := range got {
			has[p] = true
			if want[p] {
				c.foundEntries++
			} else {
				c.unexpected = append(c.unexpected, names[u.ID]+":"+p)
			}
		}
		for p := range want {
			if !has[p] {
				c.missing = append(c.missing, names[u.ID]+":"+p)
			}
		}
		seen := map[string]bool{}
		for _, p := range r.feedPages(ctx, u) {
			if seen[p] {
				c.duplicated = append(c.duplicated, names[u.ID]+":"+p)
			}
			seen[p] = true
		}
	}

	// Messages: stored once each, delivered once to the recipient.
	type stored struct{ id, conv, client string }
	var msgs []stored
	rows, err = r.db.Query(ctx, `SELECT id::text, conversation_id::text, client_message_id FROM messages WHERE conversation_id::text = ANY($1)`,
		[]string{cast.convA, cast.convB})
	if err != nil {
		t.Fatal(err)
	}
	byClient := map[string]int{}
	for rows.Next() {
		var m stored
		if err := rows.Scan(&m.id, &m.conv, &m.client); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
		byClient[m.conv+"/"+m.client]++
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	c.msgStored = len(msgs)
	for _, n := range byClient {
		if n > 1 {
			c.msgDupStored += n - 1
		}
	}
	for cid := range is.ackedTyped {
		if byClient[cast.convA+"/"+cid] == 0 {
			c.lostMessages = append(c.lostMessages, cid)
		}
	}
	for cid := range is.ackedHTTP {
		if byClient[cast.convB+"/"+cid] == 0 {
			c.lostMessages = append(c.lostMessages, cid)
		}
	}
	recipient := map[string]*liveSocket{cast.convA: cast.sockets[cast.all[1].ID], cast.convB: cast.sockets[cast.all[3].ID]}
	got := map[string]map[string]int{}
	for conv, s := range recipient {
		g, err := s.received()
		if err != nil {
			c.socketErrs = append(c.socketErrs, fmt.Sprintf("%s: %v", s.name, err))
		}
		got[conv] = g
	}
	for _, m := range msgs {
		switch n := got[m.conv][m.id]; {
		case n == 0:
			c.msgMissing = append(c.msgMissing, m.client)
		case n == 1:
			c.msgDelivered++
		default:
			c.msgDelivered++
			c.msgDup = append(c.msgDup, fmt.Sprintf("%s×%d", m.client, n))
		}
	}

	// Notifications: one FOLLOW action per follow; no MESSAGE notification
	// for a recipient who was online throughout.
	notified := map[string]int{}
	rows, err = r.db.Query(ctx, `SELECT recipient_id::text, kind, sum(count) FROM notifications WHERE recipient_id::text = ANY($1) GROUP BY 1, 2`, ids)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var who, kind string
		var n int
		if err := rows.Scan(&who, &kind, &n); err != nil {
			t.Fatal(err)
		}
		switch kind {
		case "FOLLOW":
			notified[who] = n
			c.followNotified += n
		case "MESSAGE":
			c.messageNotifications += n
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for _, u := range users {
		if notified[u.ID] != followers[u.ID] {
			c.notifyWrong = append(c.notifyWrong, fmt.Sprintf("%s: %d FOLLOW for %d followers", u.Name, notified[u.ID], followers[u.ID]))
		}
	}

	// Uploads: every media row of the round's users is handled once:
	// attached to its post (once in the post's media) or pending.
	rows, err = r.db.Query(ctx, `SELECT m.id::text, m.owner_id::text, coalesce(m.post_id::text, ''),
		coalesce(pm.post_id::text, ''),
		coalesce((SELECT count(*) FROM posts p, jsonb_array_elements(p.media) e WHERE p.id = m.post_id AND e->>'id' = m.id::text), 0)
		FROM media m LEFT JOIN post_media pm ON pm.media_id = m.id WHERE m.owner_id::text = ANY($1)`, ids)
	if err != nil {
		t.Fatal(err)
	}
	type media struct {
		id, owner, post, attachedTo string
		inPost                      int
	}
	var ms []media
	for rows.Next() {
		var m media
		if err := rows.Scan(&m.id, &m.owner, &m.post, &m.attachedTo, &m.inPost); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	mediaStored := map[string]bool{}
	for _, m := range ms {
		mediaStored[m.id] = true
		c.uploads++
		if m.post != "" {
			if m.attachedTo == m.post && m.inPost == 1 {
				c.uploadsHandled++
			} else {
				c.uploadWrong = append(c.uploadWrong, fmt.Sprintf("%s for post %s: attached to %q, %d times in its media", m.id, m.post, m.attachedTo, m.inPost))
			}
			continue
		}
		err := r.rdb.ZScore(ctx, pendingmedia.Key(m.owner), m.id).Err()
		switch {
		case err == nil && m.attachedTo == "":
			c.uploadsHandled++
		case errors.Is(err, redis.Nil):
			c.uploadWrong = append(c.uploadWrong, m.id+" (no post) is not pending")
		case err != nil:
			t.Fatal(err)
		default:
			c.uploadWrong = append(c.uploadWrong, m.id+" (no post) is attached to "+m.attachedTo)
		}
	}
	for _, acked := range []map[string]string{is.ackedUploads, is.ackedPendingIDs} {
		for id, u := range acked {
			if !mediaStored[id] {
				c.uploadWrong = append(c.uploadWrong, id+" acknowledged but not in PostgreSQL")
			} else if code := r.fileStatus(ctx, u); code != http.StatusOK {
				c.uploadWrong = append(c.uploadWrong, fmt.Sprintf("%s acknowledged but GET %s = %d", id, u, code))
			}
		}
	}

	if err := r.db.QueryRow(ctx, `SELECT count(*) FROM nova_outbox`).Scan(&c.outbox); err != nil {
		t.Fatal(err)
	}
	lags, err := r.sys.Dispatcher().Lag(ctx)
	if err != nil {
		c.lag = -1
	}
	for _, l := range lags {
		c.lag += l.Lag
	}
	c.lagging = lagging(lags)
	sort.Strings(c.missing)
	sort.Strings(c.msgMissing)
	return c
}

// feedPages reads u's whole home feed through the API, page by page.
func (r *faultRig) feedPages(ctx context.Context, u user) []string {
	var ids []string
	cursor := ""
	for range 50 {
		path := "/v1/feed?limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		code, out, err := r.try(ctx, "GET", path, u.Token, nil)
		if err != nil || code != http.StatusOK {
			r.t.Fatalf("GET %s as %s: %d %v %v", path, u.Name, code, out, err)
		}
		items, _ := out["items"].([]any)
		for _, it := range items {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		next, _ := out["next_cursor"].(string)
		if next == "" {
			return ids
		}
		cursor = next
	}
	return ids
}

func (r *faultRig) fileStatus(ctx context.Context, u string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.api+u, nil)
	if err != nil {
		return 0
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r *faultRig) deadLetters(t *testing.T) []deadletter.Entry {
	t.Helper()
	entries, err := deadletter.New(r.db).List(context.Background(), deadletter.Filter{Limit: 1000})
	if err != nil {
		t.Fatalf("list dead letters: %v", err)
	}
	return entries
}

// faultReport is what the suite prints.
type faultReport struct {
	started time.Time
	long    bool
	rounds  []roundResult
	spread  []string // per scaled-out function, the requests each replica took
	dlq     []deadletter.Entry
	soak    *soakWatch // long mode
}

func (rep *faultReport) String() string {
	var b strings.Builder
	mode := "bounded (one round)"
	if rep.long {
		mode = "long (NOVA_FAULT_LONG)"
	}
	fmt.Fprintf(&b, "Nova fault suite — %s, %d round(s), %s wall time\n", mode, len(rep.rounds), time.Since(rep.started).Round(time.Millisecond))
	for _, rd := range rep.rounds {
		c, is := rd.c, rd.issued
		fmt.Fprintf(&b, "\nround %d: workload %s, drained in %s\n", rd.n, rd.workload.Round(time.Millisecond), rd.drain.Round(time.Millisecond))
		fmt.Fprintf(&b, "  injected:\n")
		for _, in := range rd.injections {
			status := "ok"
			if in.err != nil {
				status = "FAILED: " + in.err.Error()
			}
			fmt.Fprintf(&b, "    at %6.2fs for %5.2fs  %s (%s)\n", in.at.Seconds(), in.dur.Seconds(), in.fault, status)
		}
		fmt.Fprintf(&b, "  clients:  posts %d acknowledged, %d failed; follows %d (%d attempts); typed messages %d (%d attempts); HTTP messages %d (%d attempts); uploads for a post %d acknowledged, %d failed; pending uploads %d acknowledged, %d failed\n",
			is.postsAcked, is.postsFailed, is.follows, is.followAttempts, is.typed, is.typedAttempts, is.httpMsgs, is.httpMsgAttempts,
			is.uploadsAcked, is.uploadsFailed, is.pendingAcked, is.pendingFailed)
		fmt.Fprintf(&b, "  posts:    %d in PostgreSQL (%d acknowledged and lost); feed entries expected %d, found %d, missing %d, in a wrong feed %d, duplicated %d\n",
			c.posts, len(c.lostPosts), c.expectedEntries, c.foundEntries, len(c.missing), len(c.unexpected), len(c.duplicated))
		fmt.Fprintf(&b, "  messages: %d stored (%d stored twice, %d acknowledged and lost); delivered to the recipient's websocket %d, missing %d, duplicated %d\n",
			c.msgStored, c.msgDupStored, len(c.lostMessages), c.msgDelivered, len(c.msgMissing), len(c.msgDup))
		fmt.Fprintf(&b, "  notices:  %d follows, %d FOLLOW notification actions, %d recipients wrong; %d MESSAGE notifications for online recipients (want 0)\n",
			c.follows, c.followNotified, len(c.notifyWrong), c.messageNotifications)
		fmt.Fprintf(&b, "  uploads:  %d stored, %d handled once (attached or pending), %d wrong\n", c.uploads, c.uploadsHandled, len(c.uploadWrong))
		fmt.Fprintf(&b, "  after:    outbox rows %d, consumer lag %d\n", c.outbox, c.lag)
		for _, l := range []struct {
			what string
			v    []string
		}{{"missing feed entries", c.missing}, {"entries in a wrong feed", c.unexpected}, {"duplicated feed entries", c.duplicated},
			{"lost posts", c.lostPosts}, {"lost messages", c.lostMessages}, {"undelivered messages", c.msgMissing},
			{"messages delivered twice", c.msgDup}, {"socket errors", c.socketErrs}, {"notification errors", c.notifyWrong},
			{"upload errors", c.uploadWrong}, {"lagging partitions", c.lagging}, {"clients that gave up", is.givenUp}} {
			if len(l.v) > 0 {
				fmt.Fprintf(&b, "  %s: %s\n", l.what, strings.Join(first(l.v, 10), ", "))
			}
		}
	}
	if len(rep.spread) > 0 {
		fmt.Fprintf(&b, "\nreplicas (requests each took, round-robin):\n")
		for _, l := range rep.spread {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	if rep.soak != nil && rep.soak.samples != nil {
		b.WriteString(rep.soak.String())
	}
	fmt.Fprintf(&b, "\ndead-letter store: %d entries (want 0)\n", len(rep.dlq))
	for _, e := range first(rep.dlq, 20) {
		fmt.Fprintf(&b, "  %s %s on %s, failed at %s: %d %s\n", e.Type, e.ID, e.Topic, e.ErrorDest, e.ErrorCode, strings.TrimSpace(e.ErrorData))
	}
	return b.String()
}

func first[T any](v []T, n int) []T {
	if len(v) > n {
		return v[:n]
	}
	return v
}

// emit logs the report and writes it where NOVA_FAULT_REPORT says.
func (rep *faultReport) emit(t *testing.T) {
	s := rep.String()
	t.Log("\n" + s)
	if path := os.Getenv("NOVA_FAULT_REPORT"); path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Errorf("fault report: %v", err)
			return
		}
		status := "PASS"
		if t.Failed() {
			status = "FAIL"
		}
		if err := os.WriteFile(path, []byte(s+"result: "+status+"\n"), 0o644); err != nil {
			t.Errorf("fault report: %v", err)
		}
	}
}
