package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// outsidePost produces msg to content-events as someone other than
// content writes it: a CloudEvent of content-service's type and source,
// keyed by the user it names, with the superuser's login (kcat's, say).
func (r *rig) outsidePost(msg proto.Message, key string) {
	r.t.Helper()
	e, err := envelope.NewCodec(catalog.Default()).New(msg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendEvents(kafka.Record{Topic: catalog.ContentEvents, Key: key, Event: e})
}

// postIs waits until GET /v1/posts/{id} answers u with status want, and
// returns the last answer.
func (r *rig) postIs(u user, post string, want int) map[string]any {
	r.t.Helper()
	var body map[string]any
	r.eventually(fmt.Sprintf("GET /v1/posts/%s answers %s %d", post, u.Name, want), func() (bool, string) {
		var code int
		code, body = r.call("GET", "/v1/posts/"+post, u.Token, nil)
		return code == want, fmt.Sprintf("%d %v", code, body)
	})
	return body
}

// withdrawnEverywhere waits until content withdrew post (its tombstone, and
// its PostDeleted sent by the relay), then until every consumer has read
// that, and requires the post to be in no feed, in no search result and
// unreadable.
func (r *rig) withdrawnEverywhere(post, word string, readers ...user) {
	r.t.Helper()
	db := r.pool(r.t)
	r.eventually("content withdrew "+post, func() (bool, string) {
		var tomb bool
		var pending int
		err := db.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM posts WHERE id::text = $1 AND deleted_at IS NOT NULL),
			(SELECT count(*) FROM nova_outbox WHERE subject = $1)`, post).Scan(&tomb, &pending)
		if err != nil {
			return false, err.Error()
		}
		return tomb && pending == 0, fmt.Sprintf("tombstone %v, outbox rows %d", tomb, pending)
	})
	r.settle()
	var gone bool
	if err := db.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM search_posts WHERE post_id::text = $1 AND deleted_at IS NOT NULL)`,
		post).Scan(&gone); err != nil || !gone {
		r.t.Errorf("search holds no deletion of %s (%v): the withdrawal did not reach it", post, err)
	}
	for _, u := range readers {
		if ids, _ := r.feed(u); slices.Contains(ids, post) {
			r.t.Errorf("the withdrawn post %s is in %s's feed %v", post, u.Name, ids)
		}
		if got := r.search(u, "posts", word); len(got) != 0 {
			r.t.Errorf("%s finds %v searching %q", u.Name, got, word)
		}
		if code, body := r.call("GET", "/v1/posts/"+post, u.Token, nil); code != http.StatusNotFound {
			r.t.Errorf("GET /v1/posts/%s answers %s %d %v, want 404", post, u.Name, code, body)
		}
	}
}

// A PostCreated written to content-events without content, naming an
// account and content content takes, becomes a post: in the follower's
// feed, and readable with GET /v1/posts/{id} as if its author had posted it.
func TestOutsidePostOfAnAccountBecomesAPost(t *testing.T) {
	r := start(t)
	author, fan := r.register("author"), r.register("fan")
	r.follow(fan, author)
	r.settle()
	post := uuid.Must(uuid.NewV7()).String()
	r.outsidePost(&eventsv1.PostCreated{PostId: post, UserId: author.ID, Content: "written with kcat",
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, Tags: []string{"#Ops"}, CreatedAt: timestamppb.Now()}, author.ID)
	r.feedIs(fan, post)
	got := r.postIs(fan, post, http.StatusOK)
	if got["content"] != "written with kcat" || got["author_id"] != author.ID || got["visibility"] != "PUBLIC" ||
		fmt.Sprint(got["tags"]) != "[Ops]" {
		t.Fatalf("GET /v1/posts/%s: %v", post, got)
	}
	// The post is the author's like any other: they may edit it, and the
	// edit reaches the feed.
	r.must(http.StatusOK, "PATCH", "/v1/posts/"+post, author.Token, map[string]any{"content": "edited"})
	r.eventually("the edit reaches the feed", func() (bool, string) {
		_, contents := r.feed(fan)
		return contents[post] == "edited", fmt.Sprint(contents)
	})
}

// A PostCreated naming no account, and one whose content content refuses,
// are withdrawn: once events settle they are in no feed and no search
// result, and GET /v1/posts/{id} answers 404.
func TestOutsidePostContentWouldRefuseIsWithdrawn(t *testing.T) {
	r := start(t)
	author, fan, stranger := r.register("author"), r.register("fan"), r.register("stranger")
	r.follow(fan, author)
	r.settle()
	word := "ghost" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")

	// No such account: feeds and search take it, content cannot.
	nobody := uuid.Must(uuid.NewV7()).String()
	ghost := uuid.Must(uuid.NewV7()).String()
	r.outsidePost(&eventsv1.PostCreated{PostId: ghost, UserId: nobody, Content: "nobody wrote " + word,
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()}, nobody)
	r.withdrawnEverywhere(ghost, word, fan, stranger)

	// The author's account, but a tag content refuses: it reaches the
	// fan's feed and is taken out again.
	refused := uuid.Must(uuid.NewV7()).String()
	r.outsidePost(&eventsv1.PostCreated{PostId: refused, UserId: author.ID, Content: "refused " + word,
		Tags: []string{"two words"}, Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()}, author.ID)
	r.withdrawnEverywhere(refused, word, fan, stranger, author)

	// Sent again later (a replay): still withdrawn, nothing comes back.
	r.outsidePost(&eventsv1.PostCreated{PostId: refused, UserId: author.ID, Content: "refused " + word,
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.Now()}, author.ID)
	r.settle()
	time.Sleep(500 * time.Millisecond)
	r.settle()
	r.feedIs(fan)
	if code, _ := r.call("GET", "/v1/posts/"+refused, author.Token, nil); code != http.StatusNotFound {
		t.Fatalf("a withdrawn post sent again answers %d, want 404", code)
	}
}

// The design document's console-producer test: a plain JSON record (no
// CloudEvent), with valid ids, becomes a post as a CloudEvent would.
func TestConsoleProducerRecordBecomesAPost(t *testing.T) {
	r := start(t)
	author, fan := r.register("author"), r.register("fan")
	r.follow(fan, author)
	r.settle()
	post := uuid.Must(uuid.NewV7()).String()
	record := `{"post_id":"` + post + `","user_id":"` + author.ID + `","content":"hello","type":"TEXT","visibility":"PUBLIC","tags":["kafka","test"]}`
	cl, err := r.kafkaClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: catalog.ContentEvents, Key: []byte(author.ID), Value: []byte(record)}).FirstErr(); err != nil {
		t.Fatalf("produce the console record: %v", err)
	}
	r.feedIs(fan, post)
	got := r.postIs(fan, post, http.StatusOK)
	if got["content"] != "hello" || got["author_id"] != author.ID || fmt.Sprint(got["tags"]) != "[kafka test]" {
		t.Fatalf("GET /v1/posts/%s: %v", post, got)
	}
}
