package media_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/domain/media"
)

// Run: go test -run '^$' -bench BenchmarkPeakRSS -benchtime 1x ./shared/domain/media/
//
// BenchmarkPeakRSS measures the resident memory of the upload handler,
// each scenario in a process of its own (the test binary run again as
// TestPeakRSSChild), so one scenario's peak does not hide another's:
//
//   - jpeg: one 12-megapixel JPEG upload alone, the baseline;
//   - hostile+jpeg: eight 6300×6300 16-bit RGBA PNGs (~300 KB each, 318 MB
//     each decoded) uploaded at once beside the same JPEG;
//   - hostile+jpeg-unbounded: the same with the decoding budget lifted,
//     i.e. what happens without it.
//
// peak-rss-MB is VmHWM after the uploads, the peak reset (clear_refs)
// once the inputs are made; base-rss-MB is VmRSS then.
func BenchmarkPeakRSS(b *testing.B) {
	for _, sc := range []string{"jpeg", "hostile+jpeg", "hostile+jpeg-unbounded"} {
		b.Run(sc, func(b *testing.B) {
			var metrics map[string]float64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSSChild$", "-test.v", "-test.count=1")
				cmd.Env = append(os.Environ(), "NOVA_MEDIA_RSS_SCENARIO="+sc)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("scenario %s: %v\n%s", sc, err, out)
				}
				metrics = map[string]float64{}
				for _, line := range strings.Split(string(out), "\n") {
					_, kv, ok := strings.Cut(line, "RSS-METRIC ")
					if !ok {
						continue
					}
					k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						b.Fatalf("metric %q: %v", line, err)
					}
					metrics[k] = f
				}
				if len(metrics) == 0 {
					b.Fatalf("scenario %s reported nothing:\n%s", sc, out)
				}
			}
			for k, v := range metrics {
				b.ReportMetric(v, k)
			}
		})
	}
}

// TestPeakRSSChild is one scenario of BenchmarkPeakRSS, run in a process
// of its own; as an ordinary test it has nothing to do.
func TestPeakRSSChild(t *testing.T) {
	sc := os.Getenv("NOVA_MEDIA_RSS_SCENARIO")
	if sc == "" {
		return
	}
	var opts []option
	if strings.HasSuffix(sc, "-unbounded") {
		opts = append(opts, func(c *media.Config) { c.Limits.MaxDecodeBytes, c.Limits.DecodeMemory = 1<<40, 1<<40 })
	}
	r := newRig(t, nil, opts...)
	_, tok := r.user()
	srv := httptest.NewServer(r.mux)
	defer srv.Close()
	photo := jpeg12MP(nil) // b is not used
	var bomb []byte
	if strings.HasPrefix(sc, "hostile") {
		bomb = hostilePNG(t)
	}
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("cannot reset the peak RSS: %v", err)
	}
	base := procStatus(t, "VmRSS")

	var wg sync.WaitGroup
	statuses := make([]int, 8)
	if bomb != nil {
		for i := range statuses {
			wg.Go(func() { statuses[i] = postFile(t, srv.URL, tok, "bomb.png", bomb) })
		}
	}
	start := time.Now()
	if code := postFile(t, srv.URL, tok, "photo.jpg", photo); code != http.StatusCreated {
		t.Fatalf("12 MP JPEG = %d", code)
	}
	jpegTime := time.Since(start)
	wg.Wait()
	peak := procStatus(t, "VmHWM")
	t.Logf("hostile PNG answers: %v", statuses)
	fmt.Printf("RSS-METRIC base-rss-MB=%.1f\n", base)
	fmt.Printf("RSS-METRIC peak-rss-MB=%.1f\n", peak)
	fmt.Printf("RSS-METRIC jpeg-upload-ms=%.0f\n", float64(jpegTime.Milliseconds()))
}

// procStatus reads a memory line of /proc/self/status, in MB.
func procStatus(t testing.TB, field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb / 1024
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// postFile uploads one file through a real HTTP server.
func postFile(t testing.TB, url, tok, name string, data []byte) int {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", name)
	part.Write(data)
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/media", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
