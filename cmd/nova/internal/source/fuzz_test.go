package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// parseAllocBound is the most Parse may allocate for n bytes of YAML: a
// multiple of the input plus a constant. An alias-expansion bomb asks for
// orders of magnitude more.
func parseAllocBound(n int) uint64 { return 32<<20 + 256*uint64(n) }

// measuredParse runs Parse and returns the bytes it allocated.
func measuredParse(data []byte) ([]KafkaSource, uint64, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	srcs, err := Parse("fuzz.yaml", data)
	runtime.ReadMemStats(&after)
	return srcs, after.TotalAlloc - before.TotalAlloc, err
}

// aliasBomb is a KafkaSource whose spec.topics, fully expanded, would be
// width^levels strings from a document of a few hundred bytes.
func aliasBomb(width, levels int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: sources.knative.dev/v1beta1\nkind: KafkaSource\nmetadata:\n  name: bomb\n")
	b.WriteString("x0: &x0 [" + strings.TrimSuffix(strings.Repeat(`"lol",`, width), ",") + "]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &x%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*x%d,", i-1), width), ","))
	}
	fmt.Fprintf(&b, "spec:\n  topics: *x%d\n  bootstrapServers: [k:9092]\n  sink: {uri: http://x}\n", levels)
	return []byte(b.String())
}

// TestAliasBombIsRefused: billion laughs, and smaller expansions of it,
// fail as malformed without expanding.
func TestAliasBombIsRefused(t *testing.T) {
	for _, wl := range [][2]int{{9, 9}, {10, 6}, {1000, 2}, {9, 3}} {
		data := aliasBomb(wl[0], wl[1])
		_, n, err := measuredParse(data)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%d^%d alias bomb: error %v, want ErrMalformed", wl[0], wl[1], err)
		}
		if n > parseAllocBound(len(data)) {
			t.Errorf("%d^%d alias bomb of %d bytes allocated %d bytes", wl[0], wl[1], len(data), n)
		}
	}
}

// FuzzParse feeds arbitrary bytes to the manifest reader: it must never
// panic, its allocation stays bounded by the input's size, and whatever it
// accepts must be usable by the dispatcher as is.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/valid/sources", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("kind: KafkaSource\napiVersion: sources.knative.dev/v1beta1\n---\n---\n"))
	// Multi-document with anchors and aliases used the way a hand-written
	// manifest might.
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\n---\napiVersion: sources.knative.dev/v1beta1\nkind: KafkaSource\n" +
		"metadata: {name: a}\nspec:\n  bootstrapServers: &bs [kafka:9092]\n  topics: [content-events]\n" +
		"  delivery: &d {retry: 3, backoffPolicy: exponential, backoffDelay: PT0.2S}\n  sink: {uri: http://a}\n...\n" +
		"---\napiVersion: sources.knative.dev/v1beta1\nkind: KafkaSource\nmetadata: {name: b}\nspec:\n" +
		"  bootstrapServers: *bs\n  topics: [media-events]\n  sink: {uri: http://b}\n"))
	f.Add(aliasBomb(9, 9))
	f.Add(aliasBomb(3, 4))
	f.Fuzz(func(t *testing.T, data []byte) {
		srcs, n, err := measuredParse(data)
		if n > parseAllocBound(len(data)) {
			t.Fatalf("parsing %d bytes allocated %d bytes", len(data), n)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		for _, s := range srcs {
			if s.Name == "" || s.Namespace == "" || s.ConsumerGroup == "" || len(s.Topics) == 0 || len(s.BootstrapServers) == 0 {
				t.Fatalf("accepted an incomplete source: %+v", s)
			}
			if s.Sink.Ref == nil && s.Sink.URI == nil {
				t.Fatalf("accepted a source without a sink: %+v", s)
			}
			if s.Delivery.BackoffDelay < 0 || s.Delivery.Timeout <= 0 || s.Delivery.Retry < 0 {
				t.Fatalf("accepted a bad delivery: %+v", s.Delivery)
			}
			if s.Ordering != Ordered && s.Ordering != Unordered {
				t.Fatalf("ordering %q", s.Ordering)
			}
			if s.InitialOffset != OffsetEarliest && s.InitialOffset != OffsetLatest {
				t.Fatalf("initialOffset %q", s.InitialOffset)
			}
		}
	})
}
