package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/testrig"
)

// BenchmarkRateLimitCost measures what the rate limits cost the two
// hottest requests, a feed read (50 items) and a post, in an in-process
// nova-api on the real PostgreSQL and Redis: one nova-api with the limits
// on (budgets too wide to refuse anything, so every request spends from
// Redis) beside one with NOVA_RATE_LIMITS=off, in alternating rounds.
//
//	go test -run '^$' -bench RateLimitCost -benchtime 2000x ./shared/api/
func BenchmarkRateLimitCost(b *testing.B) {
	type side struct {
		name string
		base string
		tok  string
		read []time.Duration
		post []time.Duration
	}
	sides := []*side{{name: "limits-on"}, {name: "limits-off"}}
	for _, s := range sides {
		env := roomy(map[string]string{})
		if s.name == "limits-off" {
			env["NOVA_RATE_LIMITS"] = "off"
		}
		a := newLimitedAPI(b, env)
		s.base = a.base
		name := "bench_" + shortID()
		a.signUp("127.0.0.1", name, "correct horse battery")
		s.tok, _ = a.do("127.0.0.1", "POST", "/v1/sessions", "", map[string]any{"username": name, "password": "correct horse battery"}).body["token"].(string)
		for i := range 60 {
			a.do("127.0.0.1", "POST", "/v1/posts", s.tok, map[string]any{"content": fmt.Sprintf("seed %d", i), "visibility": "PUBLIC"})
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	call := func(method, url, tok, body string) time.Duration {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 32<<10)
		for {
			if _, e := resp.Body.Read(buf); e != nil {
				break
			}
		}
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode >= 300 {
			b.Fatalf("%s %s: %d", method, url, resp.StatusCode)
		}
		return d
	}
	i := 0
	for b.Loop() {
		// Alternate sides request by request, so the machine's mood falls
		// on both alike.
		for _, s := range sides {
			s.read = append(s.read, call("GET", s.base+"/v1/feed?limit=50", s.tok, ""))
			s.post = append(s.post, call("POST", s.base+"/v1/posts", s.tok, fmt.Sprintf(`{"content":"bench %d","visibility":"PUBLIC"}`, i)))
		}
		i++
	}
	for _, s := range sides {
		testrig.ReportLatency(b, s.name+"-feed", s.read)
		testrig.ReportLatency(b, s.name+"-post", s.post)
	}
}
