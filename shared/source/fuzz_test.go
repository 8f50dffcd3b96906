package source

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the manifest reader: it must never
// panic, and whatever it accepts must be usable by the dispatcher as is.
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
	f.Fuzz(func(t *testing.T, data []byte) {
		srcs, err := Parse("fuzz.yaml", data)
		if err != nil {
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
