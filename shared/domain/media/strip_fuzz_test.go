package media

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// memFile is a file in memory for blankMP4Metadata, which writes in place.
type memFile []byte

func (m memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m memFile) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m)) {
		return 0, io.ErrShortWrite
	}
	return copy(m[off:], p), nil
}

// FuzzStrip feeds outside bytes to everything that reads metadata or
// copies a file without it: none may panic, a copy is never larger than
// its input, and blanking never changes a file's size.
func FuzzStrip(f *testing.F) {
	for _, name := range []string{"testdata/clip.mp4", "testdata/clip.mov", "testdata/red.webp", "testdata/tone.mp3", "testdata/tone.wav"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xfe\x03abc\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"))
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x16Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\xff\xd9"))
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x08eXIfII*\x00\x08\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fm := range []Format{JPEG, PNG, WebP} {
			readHeader(bytes.NewReader(b), int64(len(b)), fm)
		}
		var out bytes.Buffer
		if err := stripGIF(&out, bytes.NewReader(b)); err == nil && out.Len() > len(b) {
			t.Fatalf("GIF copy of %d bytes has %d", len(b), out.Len())
		}
		out.Reset()
		if len(b) >= 12 {
			if err := stripWebP(&out, bytes.NewReader(b), int64(len(b)), Upright); err == nil && out.Len() > len(b) {
				t.Fatalf("WebP copy of %d bytes has %d", len(b), out.Len())
			}
			out.Reset()
			// Turned, a copy gains at most the orientation's EXIF chunk.
			if err := stripWebP(&out, bytes.NewReader(b), int64(len(b)), 6); err == nil && out.Len() > len(b)+len(orientationEXIF(6)) {
				t.Fatalf("turned WebP copy of %d bytes has %d", len(b), out.Len())
			}
		}
		for _, fm := range []Format{MP3, WAV} {
			a := memFile(bytes.Clone(b))
			_ = blankAudioTags(a, int64(len(a)), fm)
			if len(a) != len(b) {
				t.Fatal("blanking tags changed the size")
			}
		}
		m := memFile(bytes.Clone(b))
		_ = blankMP4Metadata(m, int64(len(m)))
		if len(m) != len(b) {
			t.Fatal("blanking changed the size")
		}
	})
}
