package media_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/nova-social/nova/shared/domain/media"
)

// probeFormats are the formats Probe reads, indexed by the fuzzer's sel.
var probeFormats = []media.Format{media.JPEG, media.PNG, media.GIF, media.WebP, media.MP4, media.MOV,
	media.MP3, media.WAV, media.OGG, media.AAC, media.M4A}

// FuzzProbe: Sniff, then Probe of the sniffed format — what an upload goes
// through — and Probe of a format picked by sel whatever the bytes, so each
// reader sees every input. Nothing panics; a refusal is ErrCorrupt,
// ErrUnsupported or ErrTooLarge; metadata read is sane; no size field in
// the file makes a reader allocate beyond a multiple of the file's size.
func FuzzProbe(f *testing.F) {
	// Real files (ffmpeg-made, testdata/) and tiny ones of each kind
	// (testdata/seed/: 2x2 PNG, JPEG and GIF, a 16-byte WAV, MP3 frames with
	// Xing, VBRI and no header, three ADTS frames).
	files, _ := filepath.Glob("testdata/*.*")
	seeds, _ := filepath.Glob("testdata/seed/*")
	for _, p := range append(files, seeds...) {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(raw) > 8<<10 {
			raw = raw[:8<<10] // a truncated file is a case of its own
		}
		f.Add(uint8(0), raw)
	}
	f.Add(uint8(4), []byte("\x00\x00\x00\x10ftypisom\x00\x00\x00\x00\x00\x00\x00\x01moov\xff\xff\xff\xff\xff\xff\xff\xf0"))
	f.Add(uint8(7), []byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Add(uint8(6), []byte("ID3\x04\x00\x00\x7f\x7f\x7f\x7f"))
	f.Fuzz(func(t *testing.T, sel uint8, raw []byte) {
		lim := media.DefaultLimits()
		formats := []media.Format{probeFormats[int(sel)%len(probeFormats)]}
		if sniffed, ok := media.Sniff(raw[:min(len(raw), media.SniffLen)]); ok {
			if sniffed.Type == "" || sniffed.Mime == "" || sniffed.Ext == "" {
				t.Fatalf("sniffed an incomplete format %+v", sniffed)
			}
			formats = append(formats, sniffed)
		}
		for _, fm := range formats {
			var (
				md  media.Metadata
				err error
			)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			md, err = media.Probe(bytes.NewReader(raw), int64(len(raw)), fm, lim)
			runtime.ReadMemStats(&after)
			if n, bound := after.TotalAlloc-before.TotalAlloc, 16<<20+64*uint64(len(raw)); n > bound {
				t.Fatalf("probing %d bytes as %s allocated %d bytes", len(raw), fm.Mime, n)
			}
			if err != nil {
				if !errors.Is(err, media.ErrCorrupt) && !errors.Is(err, media.ErrUnsupported) && !errors.Is(err, media.ErrTooLarge) {
					t.Fatalf("probe as %s: untyped error %v", fm.Mime, err)
				}
				continue
			}
			if md.SizeBytes != int64(len(raw)) || md.Width < 0 || md.Height < 0 {
				t.Fatalf("probe as %s: metadata %+v", fm.Mime, md)
			}
			if fm.Type == media.Image && (md.Width == 0 || md.Height == 0 ||
				int(md.Width) > lim.MaxImageSide || int(md.Height) > lim.MaxImageSide) {
				t.Fatalf("probe as %s: accepted an image of %dx%d", fm.Mime, md.Width, md.Height)
			}
			if d := md.Duration; d != nil && (math.IsNaN(*d) || math.IsInf(*d, 0) || *d < 0) {
				t.Fatalf("probe as %s: duration %v", fm.Mime, *d)
			}
			if s := md.DurationSeconds(); s != nil && *s < 0 {
				t.Fatalf("probe as %s: duration %d s", fm.Mime, *s)
			}
		}
	})
}

// A 64-bit box size near the int64 limit once overflowed the container
// check, so a moov of no content was accepted as a file without metadata.
func TestProbeRefusesOverflowingBoxSize(t *testing.T) {
	raw := []byte("\x00\x00\x00\x10ftypisom\x00\x00\x00\x00\x00\x00\x00\x01moov\x7f\xff\xff\xff\xff\xff\xff\xf0")
	f, ok := media.Sniff(raw)
	if !ok || f != media.MP4 {
		t.Fatalf("sniffed %v %v", f, ok)
	}
	if md, err := media.Probe(bytes.NewReader(raw), int64(len(raw)), f, media.DefaultLimits()); !errors.Is(err, media.ErrCorrupt) {
		t.Fatalf("probe: %+v, %v; want ErrCorrupt", md, err)
	}
}
