package load

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/mail/sink"
)

type benchUser struct {
	ID, Name, Token string
}

type conversation struct {
	ID      string
	Members [2]int
}

type createdPost struct {
	ID     string
	Author int
}

// Mixed is a mixed workload against one running Nova.
type Mixed struct {
	cfg    MixedConfig
	client *http.Client
	run    string // names this run's users and contents

	users []benchUser
	convs []conversation

	mu    sync.Mutex
	posts []createdPost // every post of the run, setup's first
}

// NewMixed checks cfg and prepares a workload.
func NewMixed(cfg MixedConfig) (*Mixed, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 3)
	_, _ = crand.Read(b)
	return &Mixed{
		cfg: cfg,
		run: hex.EncodeToString(b),
		client: &http.Client{
			Timeout: cfg.RequestTimeout,
			Transport: &http.Transport{
				MaxIdleConns:        cfg.Concurrency * 2,
				MaxIdleConnsPerHost: cfg.Concurrency * 2,
				IdleConnTimeout:     90 * time.Second,
			},
		},
	}, nil
}

// Config is the configuration after defaults.
func (m *Mixed) Config() MixedConfig { return m.cfg }

func (m *Mixed) logf(format string, args ...any) {
	fmt.Fprintf(m.cfg.Progress, format+"\n", args...)
}

// call makes one request and decodes a JSON answer into out when out is not
// nil. It returns the status (0 on a transport failure).
func (m *Mixed) call(ctx context.Context, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.cfg.API+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: answer is not JSON: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// parallel runs fn(i) for i in [0, n) on at most width goroutines and
// returns the first error.
func parallel(ctx context.Context, n, width int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(width, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// Setup signs the users up (reading each one's verification code from the
// mail in cfg.MailDir), logs them in, makes the follow ring, opens the
// conversations and writes one post per user (so likes have targets from
// the first second), then waits for the backlogs to drain so the load
// starts from a quiet system.
func (m *Mixed) Setup(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	n := m.cfg.Users
	// Password hashing is deliberately expensive; a few at a time keep the
	// server's hashing limit from queueing them.
	width := min(m.cfg.Concurrency, 8)
	m.users = make([]benchUser, n)
	const password = "load test password, not a secret"
	err := parallel(ctx, n, width, func(ctx context.Context, i int) error {
		name := fmt.Sprintf("load_%s_%d", m.run, i)
		email := name + "@load.example.com"
		if _, err := m.call(ctx, http.MethodPost, "/v1/users", "", map[string]string{
			"username": name, "email": email, "password": password}, nil); err != nil {
			return fmt.Errorf("sign up %s: %w", name, err)
		}
		code, err := m.verificationCode(ctx, email)
		if err != nil {
			return fmt.Errorf("sign up %s: %w", name, err)
		}
		var u struct {
			ID string `json:"id"`
		}
		if _, err := m.call(ctx, http.MethodPost, "/v1/users/verification", "", map[string]string{"code": code}, &u); err != nil {
			return fmt.Errorf("verify %s: %w", name, err)
		}
		var s struct {
			Token string `json:"token"`
		}
		if _, err := m.call(ctx, http.MethodPost, "/v1/sessions", "", map[string]string{
			"username": name, "password": password}, &s); err != nil {
			return fmt.Errorf("log in %s: %w", name, err)
		}
		m.users[i] = benchUser{ID: u.ID, Name: name, Token: s.Token}
		return nil
	})
	if err != nil {
		return 0, err
	}
	m.logf("setup: %d users registered and logged in (%s)", n, time.Since(start).Round(time.Millisecond))

	f := m.cfg.Follows
	err = parallel(ctx, n*f, m.cfg.Concurrency, func(ctx context.Context, k int) error {
		i, j := k/f, (k/f+k%f+1)%n
		_, err := m.call(ctx, http.MethodPost, "/v1/users/"+m.users[j].ID+"/follow", m.users[i].Token, nil, nil)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("follow: %w", err)
	}
	m.convs = make([]conversation, n)
	err = parallel(ctx, n, m.cfg.Concurrency, func(ctx context.Context, i int) error {
		j := (i + 1) % n
		var c struct {
			ID string `json:"id"`
		}
		if _, err := m.call(ctx, http.MethodPost, "/v1/conversations", m.users[i].Token,
			map[string]any{"participant_ids": []string{m.users[j].ID}}, &c); err != nil {
			return err
		}
		m.convs[i] = conversation{ID: c.ID, Members: [2]int{i, j}}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("open conversations: %w", err)
	}
	err = parallel(ctx, n, m.cfg.Concurrency, func(ctx context.Context, i int) error {
		_, err := m.post(ctx, i, -1-i)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("first posts: %w", err)
	}
	m.logf("setup: %d follows, %d conversations, %d posts; waiting for the consumers to catch up", n*f, n, n)
	if _, err := m.waitDrained(ctx, time.Now()); err != nil {
		return 0, fmt.Errorf("setup: %w", err)
	}
	took := time.Since(start)
	m.logf("setup: done in %s", took.Round(time.Millisecond))
	return took, nil
}

// verificationCode waits for the sign-up mail to email in the mail folder
// and reads its code.
func (m *Mixed) verificationCode(ctx context.Context, email string) (string, error) {
	folder := filepath.Join(m.cfg.MailDir, sink.Folder(email))
	wait, cancel := context.WithTimeout(ctx, m.cfg.MailTimeout)
	defer cancel()
	t := time.NewTicker(mailPoll)
	defer t.Stop()
	for {
		msgs, err := sink.ReadDir(m.cfg.MailDir, email)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read the verification mail: %w", err)
		}
		// The run's addresses are new: its first mail is the code's.
		if len(msgs) > 0 {
			code, ok := identity.CodeFromMail(msgs[0].Text)
			if !ok {
				return "", fmt.Errorf("no verification code in the mail to %s in %s (subject %q)", email, folder, msgs[0].Subject)
			}
			return code, nil
		}
		select {
		case <-wait.Done():
			if ctx.Err() != nil {
				return "", fmt.Errorf("waiting for the verification mail in %s: %w", folder, context.Cause(ctx))
			}
			return "", fmt.Errorf("no verification mail in %s after %s: the mail goes there only when nova run runs without SMTP_ADDR "+
				"(its local relay then keeps it under <root>/.nova/mail of the repository it runs from)", folder, m.cfg.MailTimeout)
		case <-t.C:
		}
	}
}

// mailPoll is how often verificationCode looks for the mail.
const mailPoll = 100 * time.Millisecond

// post writes a post by user i; seq makes its text unique, as repeated text
// is what the moderation rules hide.
func (m *Mixed) post(ctx context.Context, i, seq int) (int, error) {
	var p struct {
		ID string `json:"id"`
	}
	code, err := m.call(ctx, http.MethodPost, "/v1/posts", m.users[i].Token, map[string]any{
		"content":    fmt.Sprintf("load run %s, post %d by user %d: the evening light over the harbour", m.run, seq, i),
		"visibility": "PUBLIC",
		"tags":       []string{"load"},
	}, &p)
	if err == nil {
		m.mu.Lock()
		m.posts = append(m.posts, createdPost{ID: p.ID, Author: i})
		m.mu.Unlock()
	}
	return code, err
}

// recentPost picks one of the last posts written.
func (m *Mixed) recentPost(r *rand.Rand) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	window := min(len(m.posts), 500)
	return m.posts[len(m.posts)-1-r.IntN(window)].ID
}

// do runs one operation and returns its status.
func (m *Mixed) do(ctx context.Context, op string, seq int, r *rand.Rand) (int, error) {
	u := r.IntN(len(m.users))
	switch op {
	case OpPost:
		return m.post(ctx, u, seq)
	case OpLike:
		return m.call(ctx, http.MethodPost, "/v1/posts/"+m.recentPost(r)+"/likes", m.users[u].Token, nil, nil)
	case OpMessage:
		c := m.convs[r.IntN(len(m.convs))]
		from := c.Members[r.IntN(2)]
		return m.call(ctx, http.MethodPost, "/v1/conversations/"+c.ID+"/messages", m.users[from].Token, map[string]any{
			"client_message_id": fmt.Sprintf("%s-%d", m.run, seq),
			"content":           fmt.Sprintf("message %d of load run %s", seq, m.run),
		}, nil)
	case OpFeed:
		return m.call(ctx, http.MethodGet, "/v1/feed?limit=50", m.users[u].Token, nil, nil)
	case OpBaseline:
		return m.call(ctx, http.MethodGet, BaselinePath, "", nil, nil)
	}
	return 0, fmt.Errorf("unknown operation %q", op)
}

// Run measures the baseline, runs the load for the configured duration and
// follows the backlogs until they drain. Setup must have run.
func (m *Mixed) Run(ctx context.Context) (MixedResult, error) {
	if len(m.users) == 0 {
		return MixedResult{}, errors.New("mixed workload: Setup has not run")
	}
	res := MixedResult{Config: m.cfg}
	if m.cfg.Baseline > 0 {
		m.logf("baseline: GET %s at %.0f/s, %d in flight at most, for %s", BaselinePath, m.cfg.Rate, m.cfg.Concurrency, m.cfg.Baseline)
		p := m.drive(ctx, m.cfg.Baseline, func(*rand.Rand) string { return OpBaseline }, nil)
		b := p.results([]string{OpBaseline})[0]
		res.Baseline = &b
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}

	m.logf("load: %s at %.0f operations/s (%s), %d in flight at most, %d users", m.cfg.Duration, m.cfg.Rate, m.cfg.Mix, m.cfg.Concurrency, len(m.users))
	start := time.Now()
	w, stopWatch := m.watch(ctx, start)
	var lastPrint time.Time
	var mu sync.Mutex
	tick := func(done int) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(lastPrint) < 5*time.Second {
			return
		}
		lastPrint = time.Now()
		line := fmt.Sprintf("load: %4.0fs %d operations", time.Since(start).Seconds(), done)
		if len(m.cfg.Backlogs) > 0 {
			line += fmt.Sprintf(", backlog %d", w.total())
		}
		m.logf("%s", line)
	}
	p := m.drive(ctx, m.cfg.Duration, m.picker(), tick)
	loadEnd := time.Now()
	res.Ops = p.results(Ops())
	res.Scheduled, res.Skipped, res.Elapsed = p.scheduled, p.skipped, p.elapsed
	if err := ctx.Err(); err != nil {
		stopWatch()
		res.Backlogs = w.res
		return res, err
	}
	w.mu.Lock()
	atEnd := slices.Clone(w.current)
	w.mu.Unlock()

	m.logf("load: done; waiting for the backlogs to drain")
	drain, err := m.waitDrained(ctx, loadEnd)
	stopWatch()
	res.Backlogs = w.res
	for i := range res.Backlogs {
		res.Backlogs[i].AtEnd = atEnd[i]
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, err
		}
		m.logf("load: %v", err)
		return res, nil
	}
	res.Drained, res.DrainAfter = len(m.cfg.Backlogs) > 0, drain
	return res, nil
}

// CheckFeeds looks for each of the last n posts of the run in the home
// feed of every follower of its author, retrying for up to wait, and
// returns how many (post, follower) pairs it checked and how many were
// missing at the end.
func (m *Mixed) CheckFeeds(ctx context.Context, n int, wait time.Duration) (checked, missing int, err error) {
	m.mu.Lock()
	posts := slices.Clone(m.posts[max(len(m.posts)-n, 0):])
	m.mu.Unlock()
	type pair struct {
		post     string
		follower int
	}
	var pending []pair
	users := len(m.users)
	for _, p := range posts {
		for k := 1; k <= m.cfg.Follows; k++ {
			// User i follows i+1 … i+Follows, so the author's followers are
			// the users just before it in the ring.
			pending = append(pending, pair{p.ID, ((p.Author-k)%users + users) % users})
		}
	}
	checked = len(pending)
	deadline := time.Now().Add(wait)
	for {
		byFollower := map[int][]string{}
		for _, p := range pending {
			byFollower[p.follower] = append(byFollower[p.follower], p.post)
		}
		pending = pending[:0]
		for f, want := range byFollower {
			var page struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
			}
			if _, err := m.call(ctx, http.MethodGet, "/v1/feed?limit=100", m.users[f].Token, nil, &page); err != nil {
				return checked, len(want), fmt.Errorf("feed of %s: %w", m.users[f].Name, err)
			}
			have := map[string]bool{}
			for _, it := range page.Items {
				have[it.ID] = true
			}
			for _, id := range want {
				if !have[id] {
					pending = append(pending, pair{id, f})
				}
			}
		}
		if len(pending) == 0 || time.Now().After(deadline) {
			return checked, len(pending), nil
		}
		select {
		case <-ctx.Done():
			return checked, len(pending), ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WriteMixed prints the report.
func WriteMixed(w io.Writer, r MixedResult) {
	c := r.Config
	fmt.Fprintf(w, "\nmixed workload: %s at a target of %.0f operations/s, at most %d in flight, %d users following %d each, mix %s\n",
		c.Duration, c.Rate, c.Concurrency, c.Users, c.Follows, c.Mix)
	fmt.Fprintf(w, "%d operations due, %d done, %d skipped (every slot busy); setup took %s\n\n",
		r.Scheduled, r.Scheduled-r.Skipped, r.Skipped, r.SetupTook.Round(time.Millisecond))
	fmt.Fprintf(w, "%-10s %8s %9s %9s %9s %9s  %s\n", "operation", "count", "ops/s", "p50 ms", "p99 ms", "max ms", "errors")
	row := func(label string, o OpResult) {
		errs := "0"
		if len(o.Errors) > 0 {
			var parts []string
			for k, v := range o.Errors {
				if v > 0 {
					parts = append(parts, fmt.Sprintf("%s×%d", k, v))
				}
			}
			sort.Strings(parts)
			if len(parts) > 0 {
				errs = strings.Join(parts, " ")
			}
		}
		p50, p99, mx := ms(o.Latency.P50), ms(o.Latency.P99), ms(o.Latency.Max)
		if o.Latency.Count == 0 {
			p50, p99, mx = "-", "-", "-"
		}
		fmt.Fprintf(w, "%-10s %8d %9.1f %9s %9s %9s  %s\n", label, o.Count, o.PerSec(), p50, p99, mx, errs)
	}
	total := OpResult{Name: "all", Errors: map[string]int{}, Elapsed: r.Elapsed}
	for _, o := range r.Ops {
		row(o.Name, o)
		total.Count += o.Count
		for k, v := range o.Errors {
			total.Errors[k] += v
		}
	}
	row("all", total)
	if r.Baseline != nil {
		fmt.Fprintf(w, "\nbaseline, same run, before the load (GET %s, same rate and concurrency, %s):\n", BaselinePath, c.Baseline)
		row("baseline", *r.Baseline)
	}
	for _, o := range append(slices.Clone(r.Ops), derefOr(r.Baseline)...) {
		if o.FirstError != "" {
			fmt.Fprintf(w, "first %s error: %s\n", o.Name, o.FirstError)
		}
	}
	if len(r.Backlogs) > 0 {
		fmt.Fprintln(w)
		for _, b := range r.Backlogs {
			fmt.Fprintf(w, "%s: peak %d (%.1fs into the load), %d when the load ended", b.Name, b.Peak, b.PeakAfter.Seconds(), b.AtEnd)
			if b.ReadErrors > 0 {
				fmt.Fprintf(w, "; %d of %d reads failed (last: %s)", b.ReadErrors, b.Samples, b.LastErr)
			}
			fmt.Fprintln(w)
		}
		if r.Drained {
			fmt.Fprintf(w, "drained %s after the load ended (every backlog at 0 on two reads %s apart)\n", r.DrainAfter.Round(time.Millisecond), c.PollInterval)
		} else {
			fmt.Fprintf(w, "NOT drained within %s of the end of the load\n", c.DrainTimeout)
		}
	}
	if r.FeedsChecked > 0 {
		fmt.Fprintf(w, "feeds: %d of %d (post, follower) pairs of the last posts present, %d missing\n",
			r.FeedsChecked-r.FeedsMissing, r.FeedsChecked, r.FeedsMissing)
	}
}

func derefOr(o *OpResult) []OpResult {
	if o == nil {
		return nil
	}
	return []OpResult{*o}
}
