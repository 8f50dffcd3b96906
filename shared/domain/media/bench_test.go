package media_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/domain/media"
)

// Run: go test -run '^$' -bench . -benchtime 5x ./shared/domain/media/
//
// BenchmarkUpload* go through the whole HTTP handler (multipart parsing,
// sniffing, the size limit, the temporary file, probing, the thumbnail,
// the filesystem store, the row and the outbox event); BenchmarkStoreCopy
// is the same-run baseline: the same bytes io.Copy'd into the same store.
// BenchmarkThumbnail12MP is decoding plus scaling plus encoding;
// BenchmarkDecode12MP, decoding alone, is its baseline.

var (
	bigJPEGOnce sync.Once
	bigJPEG     []byte
)

// jpeg12MP is a 4000×3000 photo-like JPEG (gradients and noise, quality 90).
func jpeg12MP(b *testing.B) []byte {
	bigJPEGOnce.Do(func() {
		img := image.NewYCbCr(image.Rect(0, 0, 4000, 3000), image.YCbCrSubsampleRatio420)
		seed := uint32(1)
		for i := range img.Y {
			seed = seed*1664525 + 1013904223
			img.Y[i] = uint8(i%4000/16) + uint8(seed>>28)
		}
		for i := range img.Cb {
			img.Cb[i], img.Cr[i] = uint8(i/2000), uint8(i%2000/8)
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
			panic(err)
		}
		bigJPEG = buf.Bytes()
	})
	return bigJPEG
}

// uploadOnce streams fields through the handler of a real HTTP server, so
// the body arrives as a stream as it would from a client.
func uploadStream(b *testing.B, srvURL, token string, size int64, file io.Reader) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", "f")
		if err == nil {
			_, err = io.Copy(fw, file)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest(http.MethodPost, srvURL+"/v1/media", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		b.Fatalf("upload of %d bytes = %d %s", size, res.StatusCode, body)
	}
}

func benchServer(b *testing.B, opts ...option) (*rig, string, string) {
	r := newRig(b, nil, opts...)
	_, tok := r.user()
	srv := httptest.NewServer(r.mux)
	b.Cleanup(srv.Close)
	return r, srv.URL, tok
}

func BenchmarkUploadJPEG12MP(b *testing.B) {
	img := jpeg12MP(b)
	_, url, tok := benchServer(b)
	b.SetBytes(int64(len(img)))
	b.ResetTimer()
	for b.Loop() {
		uploadStream(b, url, tok, int64(len(img)), bytes.NewReader(img))
	}
}

// video returns a reader of an n-byte MP4: a real 2-second clip followed by
// a free box, generated as it is read (never held whole in memory).
func video(b *testing.B, n int64) io.Reader {
	clip, err := os.ReadFile("testdata/clip.mp4")
	if err != nil {
		b.Fatal(err)
	}
	pad := n - int64(len(clip))
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(pad))
	copy(hdr[4:], "free")
	return io.MultiReader(bytes.NewReader(clip), bytes.NewReader(hdr[:]), io.LimitReader(zeros{}, pad-8))
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

const videoBytes = 64 << 20

func BenchmarkUploadVideo64MB(b *testing.B) {
	_, url, tok := benchServer(b, func(c *media.Config) { c.FFmpeg = "off" })
	b.SetBytes(videoBytes)
	b.ResetTimer()
	for b.Loop() {
		uploadStream(b, url, tok, videoBytes, video(b, videoBytes))
	}
}

// BenchmarkStoreCopy is the baseline: the same 64 MB written into the same
// filesystem store with a plain io.Copy.
func BenchmarkStoreCopy64MB(b *testing.B) {
	store, err := media.NewFSStore(b.TempDir(), "")
	if err != nil {
		b.Fatal(err)
	}
	key := media.Key("0190a0b0-0000-7000-8000-000000000001", "0190a0b0-0000-7000-8000-000000000002", media.MP4)
	b.SetBytes(videoBytes)
	for b.Loop() {
		if err := store.Put(context.Background(), key, video(b, videoBytes), videoBytes, "video/mp4"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkThumbnail12MP(b *testing.B) {
	img := jpeg12MP(b)
	b.ResetTimer()
	for b.Loop() {
		m, err := media.DecodeImage(bytes.NewReader(img), media.JPEG)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := media.Thumbnail(m, 320); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode12MP(b *testing.B) {
	img := jpeg12MP(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(img)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPeakMemory200MB uploads a 200 MB video through a real HTTP
// server and samples the heap every millisecond: peak-heap-MB is the most
// HeapInuse grew above its level before the upload, i.e. what the upload
// holds in memory at once.
func BenchmarkPeakMemory200MB(b *testing.B) {
	const size = 200 << 20
	_, url, tok := benchServer(b, func(c *media.Config) { c.FFmpeg = "off" })
	b.SetBytes(size)
	var worst uint64
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		var peak atomic.Uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		uploadStream(b, url, tok, size, video(b, size))
		close(stop)
		<-done
		if p := peak.Load(); p > base && p-base > worst {
			worst = p - base
		}
	}
	b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MB")
	if worst > 32<<20 {
		b.Errorf("peak heap grew by %d MB during a 200 MB upload", worst>>20)
	}
	fmt.Fprint(io.Discard, worst)
}
