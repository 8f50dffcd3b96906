package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nova-social/nova/cmd/nova/internal/dispatcher"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/functions/dead-letter/store"
	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
)

// chromium is Debian's Chromium, which the console's browser test drives.
const chromium = "/usr/bin/chromium"

// refusal makes feed-fanout refuse one event, by its id, with a 400: a
// failure no retry fixes, dead-lettered at once, until it is lifted.
type refusal struct {
	mu sync.Mutex
	id string
	// hold, while open, keeps feed-fanout's requests waiting (as a slow
	// function would), so its ordered source's lag builds up.
	hold chan struct{}
}

// holdDeliveries keeps feed-fanout's deliveries waiting until release.
func (rf *refusal) holdDeliveries() (release func()) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.hold = make(chan struct{})
	ch := rf.hold
	return func() {
		rf.mu.Lock()
		defer rf.mu.Unlock()
		close(ch)
		rf.hold = nil
	}
}

func (rf *refusal) set(id string) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.id = id
}

func (rf *refusal) middleware(function string, next http.Handler) http.Handler {
	if function != catalog.FeedFanout {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rf.mu.Lock()
		refused := rf.id != "" && req.Header.Get("Ce-Id") == rf.id
		hold := rf.hold
		rf.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
			}
		}
		if refused {
			http.Error(w, `{"error":"refused by the console test: this post is not wanted here"}`, http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// fanoutLag is feed-fanout's part of lags.
func fanoutLag(lags []dispatcher.Lag) []dispatcher.Lag {
	var out []dispatcher.Lag
	for _, l := range lags {
		if strings.HasSuffix(l.Source, "/"+catalog.FeedFanout) {
			out = append(out, l)
		}
	}
	return out
}

// outsidePosts are PostCreated events of authors no one follows, as an
// outside producer writes them to content-events: every consumer takes
// them.
func outsidePosts(t *testing.T, n int) []cloudevents.Event {
	t.Helper()
	codec := envelope.NewCodec(catalog.Default())
	out := make([]cloudevents.Event, n)
	for i := range out {
		e, err := codec.New(&eventsv1.PostCreated{PostId: id.NewPostID().String(), UserId: id.NewUserID().String(),
			Content: "console test " + strconv.Itoa(i), Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC,
			CreatedAt: timestamppb.Now()})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

func (r *rig) send(events ...cloudevents.Event) {
	r.t.Helper()
	recs := make([]kafka.Record, len(events))
	for i, e := range events {
		recs[i] = kafka.Record{Topic: catalog.ContentEvents, Event: e}
	}
	r.sendEvents(recs...)
}

// artifacts is where a test keeps what a person looks at afterwards:
// NOVA_ARTIFACTS, else the checkout's .nova/artifacts.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NOVA_ARTIFACTS")
	if dir == "" {
		root, err := system.FindRoot(".")
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".nova", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium of the test's own (an empty profile,
// nothing fetched from the network) and returns a tab in it.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the console's browser test drives Chromium at %s, which is missing: apt-get install -y chromium (%v)", chromium, err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelTab)
	// The first run starts the browser, on a context without a deadline:
	// the browser lives as long as that context.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return tab
}

// text is the visible text of the first element sel selects, once there.
func text(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("the text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// waitFor waits until the page's JavaScript expression is true.
func waitFor(ctx context.Context, what, expr string, within time.Duration) error {
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(within))); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// The console in a browser, on a running Nova: it shows the topology
// eventing/ gives; its live figures move, without a reload, as events are
// produced (the delivered count, and the lag while feed-fanout holds its
// deliveries), and the topic's page shows them decoded; a record feed-fanout refused is in its dead-letter page with
// the whole reason, and its Replay button sends it back, after which the
// store holds it as replayed and feed-fanout has taken it.
func TestConsoleInABrowser(t *testing.T) {
	began := time.Now()
	rf := &refusal{}
	r := startWith(t, system.Config{ConsoleAddr: "127.0.0.1:0", Middleware: rf.middleware})
	console := r.sys.ConsoleURL()
	if console == "" {
		t.Fatal("the system serves no console")
	}
	t.Logf("Nova with its console at %s started in %s", console, time.Since(began).Round(time.Millisecond))
	tab := browser(t)
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	dir := artifacts(t)
	screenshot := func(name string) {
		t.Helper()
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	// The topology.
	const fanout = `tr[data-source="feed-fanout"]`
	delivered := fanout + ` td[data-figure="delivered"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(console),
		chromedp.WaitVisible(chromedp.CSS(fanout)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-topic="content-events"]`)),
	); err != nil {
		t.Fatalf("open the console: %v", err)
	}
	if reads, sink := text(ctx, t, fanout+` td:nth-child(1)`), text(ctx, t, fanout+` td:nth-child(5)`); !strings.Contains(reads, catalog.ContentEvents) || sink != catalog.FeedFanout {
		t.Fatalf("feed-fanout's row reads %q and delivers to %q", reads, sink)
	}
	if err := waitFor(ctx, "the live stream", `document.getElementById('live-status').textContent.startsWith('live')`, 15*time.Second); err != nil {
		t.Fatal(err)
	}

	// Live figures: events produced now move feed-fanout's delivered
	// count on the open page; the marker set on the page survives, so it
	// was not reloaded.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.novaConsoleTest = 'still here'`)); err != nil {
		t.Fatal(err)
	}
	before := text(ctx, t, delivered)
	n0, err := strconv.Atoi(before)
	if err != nil {
		t.Fatalf("feed-fanout's delivered count reads %q", before)
	}
	posts := outsidePosts(t, 3)
	r.send(posts...)
	if err := waitFor(ctx, "feed-fanout's delivered count to move by 3",
		`Number(document.querySelector('`+delivered+`').textContent) >= `+strconv.Itoa(n0+3), 30*time.Second); err != nil {
		t.Fatalf("%v (it reads %s)", err, text(ctx, t, delivered))
	}
	marker, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.novaConsoleTest`))
	if err != nil || marker != "still here" {
		t.Fatalf("the page was reloaded (%q, %v)", marker, err)
	}
	t.Logf("feed-fanout's delivered count went from %s to %s on the open page (%s)", before, text(ctx, t, delivered),
		time.Since(began).Round(time.Millisecond))

	// Lag: while feed-fanout keeps its deliveries waiting, events produced
	// stay behind its consumer group's committed offset, and the lag the
	// dispatcher reads (every 5 s) rises on the open page; released, it
	// falls back to 0.
	lag := fanout + ` td[data-figure="lag"]`
	release := rf.holdDeliveries()
	r.send(outsidePosts(t, 3)...)
	if err := waitFor(ctx, "feed-fanout's lag to rise", `Number(document.querySelector('`+lag+`').textContent) >= 1`, 20*time.Second); err != nil {
		lags, lerr := r.sys.Dispatcher().Lag(t.Context())
		release()
		t.Fatalf("%v (it reads %s; the dispatcher reads %+v, %v)", err, text(ctx, t, lag), fanoutLag(lags), lerr)
	}
	risen := text(ctx, t, lag)
	screenshot("console-flow.png")
	release()
	if err := waitFor(ctx, "feed-fanout's lag to fall back to 0", `document.querySelector('`+lag+`').textContent === '0'`, 20*time.Second); err != nil {
		t.Fatalf("%v (it reads %s)", err, text(ctx, t, lag))
	}
	t.Logf("feed-fanout's lag rose to %s while it held its deliveries and fell back to 0 (%s)", risen,
		time.Since(began).Round(time.Millisecond))

	// The latest events of content-events, decoded.
	newest := `article.event[data-event-id="` + posts[2].ID() + `"]`
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`tr[data-topic="content-events"] a.topic`)),
		chromedp.WaitVisible(chromedp.CSS(newest)),
	); err != nil {
		t.Fatalf("the latest events of content-events: %v", err)
	}
	if data := text(ctx, t, newest+` pre.data`); !strings.Contains(data, `"content": "console test 2"`) {
		t.Fatalf("the newest event's data reads %q", data)
	}
	screenshot("console-topic.png")

	// A dead letter: feed-fanout refuses one event with a 400.
	refused := outsidePosts(t, 1)[0]
	rf.set(refused.ID())
	r.send(refused)
	dls := store.New(r.pool(t))
	dl := r.deadLetter(dls, refused.Source(), refused.ID(), catalog.FeedFanout)
	if dl.ErrorCode != http.StatusBadRequest || !strings.Contains(dl.ErrorData, "not wanted here") {
		t.Fatalf("dead letter: code %d reason %q", dl.ErrorCode, dl.ErrorData)
	}
	rf.set("") // the cause is fixed
	letter := `article[data-event-id="` + refused.ID() + `"]`
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/dead-letters"]`)),
		chromedp.WaitVisible(chromedp.CSS(letter+` button.replay`)),
	); err != nil {
		t.Fatalf("find the dead letter on the page: %v", err)
	}
	if reason := text(ctx, t, letter+` pre.reason`); !strings.Contains(reason, "refused by the console test: this post is not wanted here") {
		t.Fatalf("the page gives the reason as %q", reason)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(letter+` button.replay`)),
		chromedp.WaitVisible(chromedp.CSS(`#replay-note`)),
		chromedp.WaitVisible(chromedp.CSS(letter+`[data-pending="0"]`)),
	); err != nil {
		t.Fatalf("replay from the page: %v", err)
	}
	note := text(ctx, t, `#replay-note`)
	screenshot("console-dead-letters.png")
	if want := "wrote 1 record for 1 dead-letter entry (feed-fanout)"; note != want {
		t.Fatalf("the page says %q after the replay, want %q", note, want)
	}
	if got := r.deadLetter(dls, refused.Source(), refused.ID(), catalog.FeedFanout); got.ReplayedAt == nil {
		t.Fatal("the store does not hold the dead letter as replayed")
	}
	// feed-fanout takes the record sent back: nothing of it is pending.
	r.settle()
	pending, err := dls.List(context.Background(), store.Filter{Source: refused.Source(), ID: refused.ID(), Pending: true})
	if err != nil || len(pending) != 0 {
		t.Fatalf("after the replay the store holds %d pending entries of the event (%v)", len(pending), err)
	}
	t.Logf("replayed from the page: %q; done in %s", note, time.Since(began).Round(time.Millisecond))
}
