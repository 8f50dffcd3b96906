package media_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nova-social/nova/shared/domain/media"
)

// Real files made by ffmpeg (testdata/), and images encoded here.
func TestSniffAndProbeRealFiles(t *testing.T) {
	for _, tc := range []struct {
		file          string
		want          media.Format
		width, height int32
		seconds       float64 // 0: no duration expected
	}{
		{"clip.mp4", media.MP4, 64, 48, 2},
		{"clip.mov", media.MOV, 64, 48, 2},
		{"tone.mp3", media.MP3, 0, 0, 3},
		{"tone.wav", media.WAV, 0, 0, 3},
		{"tone.ogg", media.OGG, 0, 0, 3},
		{"tone.aac", media.AAC, 0, 0, 3},
		{"tone.m4a", media.M4A, 0, 0, 3},
		{"red.webp", media.WebP, 8, 8, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			f, ok := media.Sniff(raw[:min(len(raw), media.SniffLen)])
			if !ok || f != tc.want {
				t.Fatalf("sniffed %v %v, want %v", f, ok, tc.want)
			}
			md, err := media.Probe(bytes.NewReader(raw), int64(len(raw)), f, media.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if md.Width != tc.width || md.Height != tc.height || md.SizeBytes != int64(len(raw)) {
				t.Fatalf("metadata %+v, want %dx%d, %d bytes", md, tc.width, tc.height, len(raw))
			}
			if tc.seconds == 0 {
				if md.Duration != nil {
					t.Fatalf("duration %v for an image", *md.Duration)
				}
				return
			}
			// Encoders add priming and padding frames (MP3 and AAC about 0.2 s here).
			if md.Duration == nil || math.Abs(*md.Duration-tc.seconds) > 0.25 {
				t.Fatalf("duration %v, want about %v", fmtDur(md.Duration), tc.seconds)
			}
			if got := *md.DurationSeconds(); got != int32(tc.seconds) {
				t.Fatalf("duration_seconds %d, want %v", got, tc.seconds)
			}
		})
	}
}

func encoded(t testing.TB, f media.Format, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	var err error
	switch f {
	case media.JPEG:
		err = jpeg.Encode(&buf, img, nil)
	case media.PNG:
		err = png.Encode(&buf, img)
	case media.GIF:
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSniffAndProbeImages(t *testing.T) {
	for _, f := range []media.Format{media.JPEG, media.PNG, media.GIF} {
		raw := encoded(t, f, 40, 30)
		got, ok := media.Sniff(raw)
		if !ok || got != f {
			t.Fatalf("%s sniffed as %v", f.Mime, got)
		}
		md, err := media.Probe(bytes.NewReader(raw), int64(len(raw)), f, media.DefaultLimits())
		if err != nil || md.Width != 40 || md.Height != 30 || md.Duration != nil {
			t.Fatalf("%s: %+v %v", f.Mime, md, err)
		}
	}
}

func TestSniffRefusesWhatIsNotMedia(t *testing.T) {
	for name, b := range map[string][]byte{
		"text":      []byte("hello, I am a text file named photo.jpg\n"),
		"html":      []byte("<!doctype html><script>alert(1)</script>"),
		"empty":     nil,
		"pdf":       []byte("%PDF-1.7\n"),
		"ff noise":  {0xFF, 0xE0, 0x00, 0x00},
		"riff avi":  []byte("RIFF\x00\x00\x00\x00AVI LIST"),
		"ftyp heic": append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00heicmif1")...),
	} {
		if f, ok := media.Sniff(b); ok {
			t.Errorf("%s sniffed as %s", name, f.Mime)
		}
	}
}

// pngHeader is the start of a PNG declaring w×h: all DecodeConfig reads, and
// all a decompression bomb needs to be refused.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.WriteString("IHDR")
	b.Write(ihdr)
	crc := crc32IEEE(append([]byte("IHDR"), ihdr...))
	binary.Write(&b, binary.BigEndian, crc)
	return b.Bytes()
}

func TestProbeRefusesDecompressionBombs(t *testing.T) {
	lim := media.DefaultLimits()
	for name, raw := range map[string][]byte{
		"20000x20000": pngHeader(20000, 20000),
		"side 13000":  pngHeader(13000, 10),
		"50 MP":       pngHeader(10000, 5000),
	} {
		_, err := media.Probe(bytes.NewReader(raw), int64(len(raw)), media.PNG, lim)
		var big *media.TooLargeError
		if !errors.As(err, &big) {
			t.Errorf("%s: %v, want a TooLargeError", name, err)
		}
	}
	raw := pngHeader(6000, 6000) // 36 MP: allowed
	if _, err := media.Probe(bytes.NewReader(raw), int64(len(raw)), media.PNG, lim); err != nil {
		t.Fatal(err)
	}
}

func TestProbeCorruptFiles(t *testing.T) {
	jpg := encoded(t, media.JPEG, 40, 30)
	mp4, err := os.ReadFile("testdata/clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		raw []byte
		f   media.Format
	}{
		"jpeg cut in its header": {jpg[:20], media.JPEG},
		"mp4 without moov":       {mp4[:40], media.MP4},
		"wav without chunks":     {[]byte("RIFF\x04\x00\x00\x00WAVE"), media.WAV},
		"box past its end":       {append([]byte{0, 0, 0x10, 0, 'f', 't', 'y', 'p'}, make([]byte, 16)...), media.MP4},
	} {
		_, err := media.Probe(bytes.NewReader(tc.raw), int64(len(tc.raw)), tc.f, media.DefaultLimits())
		if !errors.Is(err, media.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
