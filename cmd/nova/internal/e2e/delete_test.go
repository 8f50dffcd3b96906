package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// An account with posts (public, private, one with a photo), followers and
// followees, likes and comments both ways, direct and group messages,
// notifications both ways, search entries and analytics is deleted with
// DELETE /v1/users/me; once the events have travelled, no PostgreSQL
// table, no Redis key and no object of the media store holds its id or
// its name, and what others still read of it is anonymised.
func TestDeletedAccountLeavesNoTrace(t *testing.T) {
	mediaDir := t.TempDir()
	r := startWith(t, system.Config{Environ: map[string]string{"MEDIA_DIR": mediaDir, "MEDIA_TMP_DIR": t.TempDir(),
		"MEDIA_URL_SECRET": "e2e-media-url-secret-" + testrig.ID() + testrig.ID()}})
	ada, bob, cy := r.register("ada"), r.register("bob"), r.register("cy")
	r.follow(bob, ada)
	r.follow(cy, ada)
	r.follow(ada, bob)

	public := r.post(ada, "ada writes about lighthouses and the sea at night", "PUBLIC")
	r.post(ada, "ada keeps this one to herself", "PRIVATE")
	withPhoto := r.post(ada, "ada's photo of a lighthouse", "PUBLIC")
	if code, out := r.upload(ada, photo(t, 32, 24), withPhoto); code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, out)
	}
	if code, out := r.upload(ada, photo(t, 16, 16), ""); code != http.StatusCreated { // never attached
		t.Fatalf("upload: %d %v", code, out)
	}
	bobs := r.post(bob, "bob's harbour notes", "PUBLIC")
	r.must(http.StatusOK, "POST", "/v1/posts/"+bobs+"/likes", ada.Token, nil)
	r.must(http.StatusCreated, "POST", "/v1/posts/"+bobs+"/comments", ada.Token, map[string]any{"content": "ada says hi"})
	r.must(http.StatusOK, "POST", "/v1/posts/"+public+"/likes", bob.Token, nil)
	r.must(http.StatusCreated, "POST", "/v1/posts/"+public+"/comments", bob.Token, map[string]any{"content": "bob answers"})
	r.must(http.StatusOK, "POST", "/v1/posts/"+public+"/likes", cy.Token, nil)

	direct := r.must(http.StatusCreated, "POST", "/v1/conversations", ada.Token,
		map[string]any{"participant_ids": []string{bob.ID}})["id"].(string)
	r.sendHTTP(ada, direct, "a-1", "ada to bob, privately")
	r.sendHTTP(bob, direct, "b-1", "bob to ada")
	group := r.must(http.StatusCreated, "POST", "/v1/conversations", ada.Token,
		map[string]any{"participant_ids": []string{bob.ID, cy.ID}, "title": "harbour"})["id"].(string)
	r.sendHTTP(ada, group, "a-2", "ada to the group")
	r.sendHTTP(cy, group, "c-1", "cy to the group")

	// Everything has reached every store before the deletion.
	r.eventually("ada's posts in bob's feed", func() (bool, string) {
		ids, _ := r.feed(bob)
		return slices.Contains(ids, public) && slices.Contains(ids, withPhoto), fmt.Sprint(ids)
	})
	r.eventually("ada is found by search", func() (bool, string) {
		users, posts := r.search(bob, "users", ada.Name), r.search(bob, "posts", "lighthouses")
		return slices.Contains(users, ada.ID) && slices.Contains(posts, public), fmt.Sprint(users, posts)
	})
	r.eventually("notifications both ways", func() (bool, string) {
		toAda, toBob := r.notifications(ada, ""), r.notifications(bob, "")
		return len(toAda) >= 2 && len(toBob) >= 3, fmt.Sprint(toAda, toBob)
	})
	r.settle()

	pool := r.pool(t)
	admin := redis.NewClient(mustRedisOptions(t, testrig.RedisAdminURL(t)))
	t.Cleanup(func() { admin.Close() })
	needles := []string{ada.ID, ada.Name}
	traces := func() []string {
		ctx := context.Background()
		pg, err := testrig.PostgresTraces(ctx, pool, needles...)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := testrig.RedisTraces(ctx, admin, needles...)
		if err != nil {
			t.Fatal(err)
		}
		files, err := testrig.FileTraces(mediaDir, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := append(pg, rd...)
		for _, f := range files {
			out = append(out, "media store: "+f)
		}
		return out
	}
	before := traces()
	for _, want := range []string{"users:", "posts:", "media:", "messages:", "notifications:", "search_users:",
		"analytics_user_days:", "feed:", "followers:", "profile:", "media store:"} {
		if !slices.ContainsFunc(before, func(s string) bool { return strings.Contains(s, want) }) {
			t.Fatalf("before the deletion no trace in %q, so finding none after proves nothing: %v", want, before)
		}
	}

	// Re-authentication: a wrong or missing password changes nothing.
	code, out := r.call("DELETE", "/v1/users/me", ada.Token, map[string]any{"password": "wrong horse battery staple"})
	if code != http.StatusForbidden || errorCodeOf(out) != "wrong_password" {
		t.Fatalf("wrong password: %d %v", code, out)
	}
	if code, out := r.call("DELETE", "/v1/users/me", ada.Token, map[string]any{}); code != http.StatusBadRequest || errorCodeOf(out) == "" {
		t.Fatalf("no password: %d %v", code, out)
	}
	r.must(http.StatusOK, "GET", "/v1/users/me", ada.Token, nil)

	r.must(http.StatusNoContent, "DELETE", "/v1/users/me", ada.Token, map[string]any{"password": "correct horse battery staple"})
	if code, _ := r.call("GET", "/v1/users/"+ada.ID, bob.Token, nil); code != http.StatusNotFound {
		t.Fatalf("ada's profile after the deletion: %d", code)
	}

	r.eventually("no trace of ada in any store", func() (bool, string) {
		got := traces()
		return len(got) == 0, strings.Join(got, "\n")
	})
	r.settle()
	if got := traces(); len(got) != 0 {
		t.Fatalf("traces of ada once everything settled:\n%s", strings.Join(got, "\n"))
	}

	// What others read of ada is anonymised, and their own is untouched.
	ids, _ := r.feed(bob)
	if slices.Contains(ids, public) || slices.Contains(ids, withPhoto) || !slices.Contains(ids, bobs) {
		t.Fatalf("bob's feed after the deletion: %v", ids)
	}
	if got := r.history(bob, direct); fmt.Sprint(got) != "[1: 2:bob to ada]" {
		t.Fatalf("bob's direct history: %v", got)
	}
	if got := r.history(cy, group); fmt.Sprint(got) != "[1: 2:cy to the group]" {
		t.Fatalf("cy's group history: %v", got)
	}
	hist := r.must(http.StatusOK, "GET", "/v1/conversations/"+direct+"/messages?limit=10", bob.Token, nil)
	if s := hist["items"].([]any)[0].(map[string]any)["sender_id"]; s != id.Deleted.String() {
		t.Fatalf("ada's message's sender: %v", s)
	}
	if n := r.notifications(bob, ""); len(n) != 1 || fmt.Sprint(n[0]["actor_ids"]) != fmt.Sprint([]any{cy.ID}) {
		t.Fatalf("bob's inbox keeps only cy's message: %v", n)
	}
	if got := r.search(bob, "posts", "lighthouses"); len(got) != 0 {
		t.Fatalf("ada's posts still found: %v", got)
	}
}

func mustRedisOptions(t *testing.T, url string) *redis.Options {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

func errorCodeOf(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}
