package media

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/webp"
)

// Metadata is what is read from a file's bytes.
type Metadata struct {
	Width, Height int32
	SizeBytes     int64
	// Duration is set for video and audio whose length the format tells
	// (see Probe).
	Duration *float64
}

// DurationSeconds is Duration rounded to whole seconds, as MediaMetadata
// carries it.
func (m Metadata) DurationSeconds() *int32 {
	if m.Duration == nil {
		return nil
	}
	// A header may claim any sample count (an OGG granule is 64 bits):
	// clamp, as converting an out-of-range float to int32 is undefined.
	s := int32(math.Round(min(max(*m.Duration, 0), math.MaxInt32)))
	return &s
}

// Probe reads a file's dimensions and duration without decoding it:
//
//   - images: the header through image.DecodeConfig of the sniffed format,
//     refused beyond the pixel and side limits before anything decodes the
//     pixels (a decompression bomb declares its size up front);
//   - MP4/MOV (and M4A): the moov box, mvhd for the duration and the first
//     tkhd with a size for the dimensions, wherever moov sits in the file;
//   - WAV: fmt and data chunks; MP3: the Xing/Info or VBRI header, else the
//     first frame's bit rate over the file (exact for constant bit rate);
//     OGG Vorbis/Opus: the last page's granule position; AAC (ADTS): the
//     frame count.
//
// A file of a known format whose structure cannot be read is ErrCorrupt.
func Probe(r io.ReaderAt, size int64, f Format, lim Limits) (Metadata, error) {
	md := Metadata{SizeBytes: size}
	var err error
	switch f {
	case JPEG, PNG, GIF, WebP:
		err = probeImage(r, size, f, lim, &md)
	case MP4, MOV, M4A:
		err = probeMP4(r, size, &md)
	case WAV:
		err = probeWAV(r, size, &md)
	case MP3:
		err = probeMP3(r, size, &md)
	case OGG:
		err = probeOGG(r, size, &md)
	case AAC:
		err = probeADTS(r, size, &md)
	default:
		err = fmt.Errorf("%w: no prober for %s", ErrUnsupported, f.Mime)
	}
	return md, err
}

func probeImage(r io.ReaderAt, size int64, f Format, lim Limits, md *Metadata) error {
	cfg, err := decodeConfig(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 16<<10), f)
	if err != nil {
		return fmt.Errorf("%w: %s header: %w", ErrCorrupt, f.Mime, err)
	}
	if err := lim.checkPixels(cfg.Width, cfg.Height); err != nil {
		return err
	}
	md.Width, md.Height = int32(cfg.Width), int32(cfg.Height)
	return nil
}

func decodeConfig(r io.Reader, f Format) (image.Config, error) {
	switch f {
	case JPEG:
		return jpeg.DecodeConfig(r)
	case PNG:
		return png.DecodeConfig(r)
	case GIF:
		return gif.DecodeConfig(r)
	case WebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, fmt.Errorf("%w: %s is not an image", ErrUnsupported, f.Mime)
}

// checkPixels refuses an image too large to decode safely.
func (l Limits) checkPixels(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: image is %dx%d", ErrCorrupt, w, h)
	}
	if w > l.MaxImageSide || h > l.MaxImageSide || int64(w)*int64(h) > l.MaxImagePixels {
		return &TooLargeError{What: "image dimensions", Detail: fmt.Sprintf(
			"%dx%d exceeds the limit (%d pixels per side, %d pixels in all)", w, h, l.MaxImageSide, l.MaxImagePixels)}
	}
	return nil
}

// boxReader walks ISO base media boxes.
type box struct {
	typ          string
	start, size  int64 // the whole box
	payload, end int64
}

// maxBoxes bounds the boxes read, so a crafted file cannot make the walk
// long.
const maxBoxes = 10000

func readBoxes(r io.ReaderAt, from, to int64, fn func(box) (bool, error)) error {
	var hdr [16]byte
	for off, n := from, 0; off+8 <= to; n++ {
		if n > maxBoxes {
			return fmt.Errorf("%w: too many boxes", ErrCorrupt)
		}
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return fmt.Errorf("%w: box header at %d: %w", ErrCorrupt, off, err)
		}
		size := int64(be32(hdr[0:4]))
		b := box{typ: string(hdr[4:8]), start: off, payload: off + 8}
		switch size {
		case 0: // to the end of the enclosing box
			size = to - off
		case 1: // 64-bit size follows
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return fmt.Errorf("%w: box size at %d: %w", ErrCorrupt, off, err)
			}
			size = int64(be64(hdr[8:16]))
			b.payload = off + 16
		}
		// size > to-off, not off+size > to: a 64-bit size would overflow.
		if size < b.payload-off || size > to-off {
			return fmt.Errorf("%w: box %q at %d has size %d past its container", ErrCorrupt, b.typ, off, size)
		}
		b.size, b.end = size, off+size
		stop, err := fn(b)
		if err != nil || stop {
			return err
		}
		off = b.end
	}
	return nil
}

func probeMP4(r io.ReaderAt, size int64, md *Metadata) error {
	var moov *box
	err := readBoxes(r, 0, size, func(b box) (bool, error) {
		if b.typ == "moov" {
			moov = &b
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if moov == nil {
		return fmt.Errorf("%w: no moov box (an incomplete or fragmented-only file)", ErrCorrupt)
	}
	return readBoxes(r, moov.payload, moov.end, func(b box) (bool, error) {
		switch b.typ {
		case "mvhd":
			d, err := mvhdDuration(r, b)
			if err != nil {
				return false, err
			}
			md.Duration = &d
		case "trak":
			if md.Width != 0 {
				return false, nil
			}
			return false, readBoxes(r, b.payload, b.end, func(t box) (bool, error) {
				if t.typ != "tkhd" {
					return false, nil
				}
				// Width and height are the last 8 bytes, 16.16 fixed point.
				if t.end-t.payload < 84 {
					return false, fmt.Errorf("%w: short tkhd", ErrCorrupt)
				}
				var wh [8]byte
				if _, err := r.ReadAt(wh[:], t.end-8); err != nil {
					return false, fmt.Errorf("%w: tkhd: %w", ErrCorrupt, err)
				}
				md.Width, md.Height = int32(be32(wh[0:4])>>16), int32(be32(wh[4:8])>>16)
				return true, nil
			})
		}
		return false, nil
	})
}

func mvhdDuration(r io.ReaderAt, b box) (float64, error) {
	var p [32]byte
	n := min(int64(len(p)), b.end-b.payload)
	if _, err := r.ReadAt(p[:n], b.payload); err != nil || n < 20 {
		return 0, fmt.Errorf("%w: short mvhd", ErrCorrupt)
	}
	var scale, dur uint64
	if p[0] == 1 { // version 1: 64-bit times
		if n < 32 {
			return 0, fmt.Errorf("%w: short mvhd", ErrCorrupt)
		}
		scale, dur = uint64(be32(p[20:24])), be64(p[24:32])
	} else {
		scale, dur = uint64(be32(p[12:16])), uint64(be32(p[16:20]))
	}
	if scale == 0 {
		return 0, fmt.Errorf("%w: mvhd time scale is 0", ErrCorrupt)
	}
	return float64(dur) / float64(scale), nil
}

func probeWAV(r io.ReaderAt, size int64, md *Metadata) error {
	var byteRate uint32
	var hdr [8]byte
	for off, n := int64(12), 0; off+8 <= size && n < maxBoxes; n++ {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return fmt.Errorf("%w: WAV chunk: %w", ErrCorrupt, err)
		}
		id, csize := string(hdr[0:4]), int64(le32(hdr[4:8]))
		switch id {
		case "fmt ":
			var f [12]byte
			if _, err := r.ReadAt(f[:], off+8); err != nil {
				return fmt.Errorf("%w: WAV fmt: %w", ErrCorrupt, err)
			}
			byteRate = le32(f[8:12])
		case "data":
			if byteRate == 0 {
				return fmt.Errorf("%w: WAV data before a usable fmt chunk", ErrCorrupt)
			}
			// A streamed WAV may carry a placeholder size: trust the file.
			csize = min(csize, size-off-8)
			d := float64(csize) / float64(byteRate)
			md.Duration = &d
			return nil
		}
		off += 8 + csize + csize&1
	}
	return fmt.Errorf("%w: WAV without a data chunk", ErrCorrupt)
}

var (
	mp3Bitrates = [2][16]int{ // kbit/s, layer III; [0] MPEG-1, [1] MPEG-2/2.5
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
	}
	mp3Rates = [4][3]int{{11025, 12000, 8000}, {}, {22050, 24000, 16000}, {44100, 48000, 32000}} // by version bits
)

func probeMP3(r io.ReaderAt, size int64, md *Metadata) error {
	start := int64(0)
	var id3 [10]byte
	if _, err := r.ReadAt(id3[:], 0); err == nil && string(id3[:3]) == "ID3" {
		// Syncsafe size, plus the header and an optional footer.
		start = 10 + int64(id3[6]&0x7f)<<21 | int64(id3[7]&0x7f)<<14 | int64(id3[8]&0x7f)<<7 | int64(id3[9]&0x7f)
		if id3[5]&0x10 != 0 {
			start += 10
		}
	}
	// Find the first frame within a little of the tag's end.
	buf := make([]byte, 4096)
	n, _ := r.ReadAt(buf, start)
	buf = buf[:n]
	i := 0
	for ; i+4 <= len(buf); i++ {
		if buf[i] == 0xFF && buf[i+1]&0xE0 == 0xE0 && (buf[i+1]>>1)&3 == 1 && mp3HeaderValid(buf[i:]) {
			break
		}
	}
	if i+4 > len(buf) {
		return fmt.Errorf("%w: no MPEG audio frame found", ErrCorrupt)
	}
	h := buf[i:]
	version := (h[1] >> 3) & 3 // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
	v := 0
	samples := 1152.0
	if version != 3 {
		v, samples = 1, 576
	}
	bitrate := mp3Bitrates[v][h[2]>>4] * 1000
	rate := mp3Rates[version][(h[2]>>2)&3]
	mono := h[3]>>6 == 3
	side := map[[2]bool]int{{true, false}: 32, {true, true}: 17, {false, false}: 17, {false, true}: 9}[[2]bool{version == 3, mono}]
	if x := i + 4 + side; x+16 <= len(buf) {
		if tag := string(buf[x : x+4]); (tag == "Xing" || tag == "Info") && buf[x+7]&1 != 0 {
			d := float64(be32(buf[x+8:x+12])) * samples / float64(rate)
			md.Duration = &d
			return nil
		}
	}
	if x := i + 4 + 32; x+18 <= len(buf) && string(buf[x:x+4]) == "VBRI" {
		d := float64(be32(buf[x+14:x+18])) * samples / float64(rate)
		md.Duration = &d
		return nil
	}
	d := float64(size-start-int64(i)) * 8 / float64(bitrate)
	md.Duration = &d
	return nil
}

func probeOGG(r io.ReaderAt, size int64, md *Metadata) error {
	var first [64]byte
	n, _ := r.ReadAt(first[:], 0)
	if n < 28 {
		return fmt.Errorf("%w: short OGG page", ErrCorrupt)
	}
	segs := int(first[26])
	body := 27 + segs
	if body+19 > n {
		return fmt.Errorf("%w: OGG first page too short", ErrCorrupt)
	}
	p := first[body:n]
	var rate float64
	var preSkip uint64
	switch {
	case len(p) >= 16 && string(p[0:7]) == "\x01vorbis":
		rate = float64(le32(p[12:16]))
	case len(p) >= 12 && string(p[0:8]) == "OpusHead":
		rate, preSkip = 48000, uint64(p[10])|uint64(p[11])<<8 // Opus granules count 48 kHz samples
	default:
		// Another codec (FLAC, Speex…): accepted, length unknown.
		return nil
	}
	if rate == 0 {
		return fmt.Errorf("%w: OGG stream with sample rate 0", ErrCorrupt)
	}
	// The last page's granule position is the stream's sample count.
	tail := min(size, 64<<10)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: OGG tail: %w", ErrCorrupt, err)
	}
	for i := len(buf) - 27; i >= 0; i-- {
		if string(buf[i:i+4]) == "OggS" {
			g := le64(buf[i+6 : i+14])
			if g == math.MaxUint64 {
				continue
			}
			d := float64(g-min(g, preSkip)) / rate
			md.Duration = &d
			return nil
		}
	}
	return nil
}

var adtsRates = [16]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

func probeADTS(r io.ReaderAt, size int64, md *Metadata) error {
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 32<<10)
	var frames, rate int
	var h [7]byte
	for off := int64(0); off+7 <= size; {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			break
		}
		if h[0] != 0xFF || h[1]&0xF6 != 0xF0 {
			if frames == 0 {
				return fmt.Errorf("%w: no ADTS frame", ErrCorrupt)
			}
			break // trailing tag or garbage: count what came before
		}
		if frames == 0 {
			rate = adtsRates[(h[2]>>2)&0xF]
			if rate == 0 {
				return fmt.Errorf("%w: ADTS sample rate index", ErrCorrupt)
			}
		}
		flen := int64(h[3]&3)<<11 | int64(h[4])<<3 | int64(h[5])>>5
		if flen < 7 {
			return fmt.Errorf("%w: ADTS frame length %d", ErrCorrupt, flen)
		}
		frames += int(h[6]&3) + 1
		if _, err := br.Discard(int(flen - 7)); err != nil {
			break
		}
		off += flen
	}
	if frames == 0 {
		// Shorter than one header: no rate was read, and 0/0 is no length.
		return fmt.Errorf("%w: no whole ADTS frame header", ErrCorrupt)
	}
	d := float64(frames) * 1024 / float64(rate)
	md.Duration = &d
	return nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func be64(b []byte) uint64 { return uint64(be32(b[0:4]))<<32 | uint64(be32(b[4:8])) }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b[0:4])) | uint64(le32(b[4:8]))<<32 }
