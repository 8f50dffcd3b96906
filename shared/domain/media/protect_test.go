package media_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/media"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/id"
)

var (
	hostileOnce sync.Once
	hostile     []byte
)

// hostilePNG is the file: a real 6300×6300 16-bit RGBA PNG of
// ~300 KB (its rows are zeros, which deflate to almost nothing) that
// decodes to 318 MB. It is within the pixel limits.
func hostilePNG(t testing.TB) []byte {
	hostileOnce.Do(func() {
		const side = 6300
		var idat bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
		row := make([]byte, 1+side*8)
		for range side {
			zw.Write(row)
		}
		zw.Close()
		var out bytes.Buffer
		out.WriteString("\x89PNG\r\n\x1a\n")
		ihdr := make([]byte, 13)
		binary.BigEndian.PutUint32(ihdr[0:], side)
		binary.BigEndian.PutUint32(ihdr[4:], side)
		ihdr[8], ihdr[9] = 16, 6 // 16 bits, RGBA
		writeChunk(&out, "IHDR", ihdr)
		writeChunk(&out, "IDAT", idat.Bytes())
		writeChunk(&out, "IEND", nil)
		hostile = out.Bytes()
	})
	return hostile
}

func writeChunk(w *bytes.Buffer, typ string, data []byte) {
	binary.Write(w, binary.BigEndian, uint32(len(data)))
	w.WriteString(typ)
	w.Write(data)
	binary.Write(w, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// nothingStored fails unless the upload left no object, row, event or
// temporary file.
func (r *rig) nothingStored() {
	r.t.Helper()
	if f := r.files(); len(f) != 0 {
		r.t.Fatalf("store holds %v", f)
	}
	if n := r.count(`SELECT count(*) FROM media`); n != 0 {
		r.t.Fatalf("%d media rows", n)
	}
	if ev := r.events(); len(ev) != 0 {
		r.t.Fatalf("%d events", len(ev))
	}
	if left, _ := os.ReadDir(r.tempDir()); len(left) != 0 {
		r.t.Fatalf("temporary files left: %v", left)
	}
}

func TestHostilePNGRefusedBeforeDecoding(t *testing.T) {
	r := newRig(t, nil)
	_, tok := r.user()
	bomb := hostilePNG(t)
	t.Logf("hostile PNG: %d bytes", len(bomb))
	code, out := r.upload(tok, field{"file", "x.png", string(bomb)})
	e, _ := out["error"].(map[string]any)
	if code != http.StatusRequestEntityTooLarge || e["code"] != "payload_too_large" ||
		!strings.Contains(e["message"].(string), "6300x6300") {
		t.Fatalf("hostile PNG = %d %v", code, out)
	}
	r.nothingStored()
}

func TestDecodingWaitsForMemoryThenRefuses(t *testing.T) {
	r := newRig(t, nil, func(c *media.Config) { c.Limits.DecodeWait = 200 * time.Millisecond })
	_, tok := r.user()
	// Other uploads hold the whole budget: this one waits, then is told
	// to come back, and nothing is kept.
	release, err := media.HoldDecodeMemory(r.ctx, r.svc, media.DefaultLimits().DecodeMemory)
	if err != nil {
		t.Fatal(err)
	}
	jpg := encoded(t, media.JPEG, 200, 150)
	code, out := r.upload(tok, field{"file", "p.jpg", string(jpg)})
	if e, _ := out["error"].(map[string]any); code != http.StatusServiceUnavailable || e["code"] != "unavailable" {
		t.Fatalf("upload while the budget is taken = %d %v", code, out)
	}
	r.nothingStored()
	release()
	if code, out := r.upload(tok, field{"file", "p.jpg", string(jpg)}); code != http.StatusCreated {
		t.Fatalf("upload once there is room = %d %v", code, out)
	}
}

// exifGPS is an EXIF block (big-endian TIFF) with an orientation and a
// GPS position, as a phone writes it.
func exifGPS(orientation uint16) (tiff, position []byte) {
	var b bytes.Buffer
	be := binary.BigEndian
	b.WriteString("MM\x00\x2a")
	binary.Write(&b, be, uint32(8))
	// IFD0: orientation, pointer to the GPS IFD at 38.
	binary.Write(&b, be, uint16(2))
	binary.Write(&b, be, []uint16{0x0112, 3})
	binary.Write(&b, be, uint32(1))
	binary.Write(&b, be, []uint16{orientation, 0})
	binary.Write(&b, be, []uint16{0x8825, 4})
	binary.Write(&b, be, []uint32{1, 38})
	binary.Write(&b, be, uint32(0))
	// GPS IFD: N, 48° 51' 29.57" (the rationals at 68).
	binary.Write(&b, be, uint16(2))
	binary.Write(&b, be, []uint16{0x0001, 2})
	binary.Write(&b, be, uint32(2))
	b.WriteString("N\x00\x00\x00")
	binary.Write(&b, be, []uint16{0x0002, 5})
	binary.Write(&b, be, []uint32{3, 68})
	binary.Write(&b, be, uint32(0))
	position = binary.BigEndian.AppendUint32(nil, 48)
	for _, v := range []uint32{1, 51, 1, 2957, 100} {
		position = binary.BigEndian.AppendUint32(position, v)
	}
	b.Write(position)
	return b.Bytes(), position
}

// halves is a w×h image, red on the left and blue on the right.
func halves(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{255, 0, 0, 255}
			if x >= w/2 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func isRed(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r > 0xc000 && g < 0x4000 && b < 0x4000
}

func isBlue(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return b > 0xc000 && r < 0x4000 && g < 0x4000
}

// stored uploads a file and returns the answer and the bytes the server
// serves back for it.
func (r *rig) stored(tok, name string, file []byte) (map[string]any, []byte) {
	r.t.Helper()
	code, out := r.upload(tok, field{"file", name, string(file)})
	if code != http.StatusCreated {
		r.t.Fatalf("upload %s = %d %v", name, code, out)
	}
	res := r.get(out["url"].(string))
	if res.Code != http.StatusOK {
		r.t.Fatalf("GET %s = %d %s", out["url"], res.Code, res.Body)
	}
	return out, res.Body.Bytes()
}

func TestPhotoLosesItsGPSAndIsTurnedUpright(t *testing.T) {
	r := newRig(t, nil)
	_, tok := r.user()
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, halves(64, 32), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	// Orientation 6: shown turned a quarter clockwise. An ICC profile
	// segment rides along and must stay.
	tiff, position := exifGPS(6)
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	icc := append([]byte("ICC_PROFILE\x00\x01\x01"), bytes.Repeat([]byte("P3"), 40)...)
	var photo bytes.Buffer
	photo.Write(plain.Bytes()[:2])
	for _, seg := range []struct {
		marker byte
		data   []byte
	}{{0xE1, app1}, {0xE2, icc}} {
		photo.Write([]byte{0xFF, seg.marker})
		binary.Write(&photo, binary.BigEndian, uint16(len(seg.data)+2))
		photo.Write(seg.data)
	}
	photo.Write(plain.Bytes()[2:])
	if !bytes.Contains(photo.Bytes(), position) {
		t.Fatal("the test photo carries no position")
	}

	out, got := r.stored(tok, "photo.jpg", photo.Bytes())
	for what, b := range map[string][]byte{"an EXIF segment": []byte("Exif\x00\x00"), "the GPS position": position,
		"the GPS IFD tag": {0x88, 0x25}} {
		if bytes.Contains(got, b) {
			t.Errorf("the served photo still holds %s", what)
		}
	}
	if !bytes.Contains(got, icc) {
		t.Error("the ICC profile was dropped")
	}
	img, err := jpeg.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	// Upright: 32 wide, 64 high, the stored left (red) half on top.
	if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 64 || out["width"] != 32.0 || out["height"] != 64.0 {
		t.Fatalf("served %v, answer %vx%v; want 32x64", b, out["width"], out["height"])
	}
	if !isRed(img.At(16, 12)) || !isBlue(img.At(16, 52)) {
		t.Fatalf("not upright: top %v, bottom %v", img.At(16, 12), img.At(16, 52))
	}
}

func TestPNGGIFWebPAndVideoLoseTheirMetadata(t *testing.T) {
	r := newRig(t, nil, func(c *media.Config) { c.FFmpeg = "off" })
	_, tok := r.user()
	tiff, position := exifGPS(3)

	// PNG: eXIf (upside down) and a text chunk.
	var plain bytes.Buffer
	png.Encode(&plain, halves(40, 20))
	var p bytes.Buffer
	p.Write(plain.Bytes()[:33]) // signature and IHDR
	writeChunk(&p, "eXIf", tiff)
	writeChunk(&p, "tEXt", []byte("Comment\x00taken at 48.8584N 2.2945E"))
	p.Write(plain.Bytes()[33:])
	_, got := r.stored(tok, "p.png", p.Bytes())
	if bytes.Contains(got, position) || bytes.Contains(got, []byte("eXIf")) || bytes.Contains(got, []byte("48.8584N")) {
		t.Error("the served PNG keeps metadata")
	}
	img, err := png.Decode(bytes.NewReader(got))
	if err != nil || !isBlue(img.At(5, 10)) || !isRed(img.At(35, 10)) {
		t.Fatalf("PNG not turned half round: %v", err)
	}

	// GIF: a comment and an XMP application extension.
	var g bytes.Buffer
	gif.Encode(&g, halves(16, 16), nil)
	gb := g.Bytes()
	var withMeta []byte
	withMeta = append(withMeta, gb[:len(gb)-1]...)
	withMeta = append(withMeta, 0x21, 0xFE, 17)
	withMeta = append(withMeta, "GPS 48.8584N 2.29"...)
	withMeta = append(withMeta, 0, 0x21, 0xFF, 11)
	withMeta = append(withMeta, "XMP DataXMP"...)
	withMeta = append(withMeta, 9)
	withMeta = append(withMeta, "<x:xmpmeta"[:9]...)
	withMeta = append(withMeta, 0, 0x3B)
	if _, err := gif.Decode(bytes.NewReader(withMeta)); err != nil {
		t.Fatalf("test GIF: %v", err)
	}
	_, got = r.stored(tok, "g.gif", withMeta)
	if bytes.Contains(got, []byte("GPS")) || bytes.Contains(got, []byte("XMP")) {
		t.Error("the served GIF keeps metadata")
	}
	if _, err := gif.Decode(bytes.NewReader(got)); err != nil {
		t.Fatalf("served GIF: %v", err)
	}

	// WebP: an extended file with an EXIF chunk.
	red, _ := os.ReadFile("testdata/red.webp")
	cfg, err := media.Probe(bytes.NewReader(red), int64(len(red)), media.WebP, media.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	vp8x := make([]byte, 10)
	vp8x[0] = 0x08 // EXIF
	vp8x[4], vp8x[7] = byte(cfg.Width-1), byte(cfg.Height-1)
	body := append([]byte("VP8X\x0a\x00\x00\x00"), vp8x...)
	body = append(body, red[12:]...)
	body = append(body, "EXIF"...)
	body = binary.LittleEndian.AppendUint32(body, uint32(len(tiff)))
	body = append(body, tiff...)
	w.WriteString("RIFF")
	binary.Write(&w, binary.LittleEndian, uint32(4+len(body)))
	w.WriteString("WEBP")
	w.Write(body)
	_, got = r.stored(tok, "w.webp", w.Bytes())
	if bytes.Contains(got, position) || bytes.Count(got, []byte("EXIF")) != 1 {
		t.Error("the served WebP keeps its EXIF")
	}
	// What is left of it is the orientation alone (upside down), in an
	// EXIF chunk of its own, announced: the picture still shows upright.
	at := bytes.Index(got, []byte("EXIF"))
	if at < 0 || got[20]&0x08 == 0 || at+8+26 != len(got) ||
		binary.LittleEndian.Uint32(got[at+4:]) != 26 || string(got[at+8:at+12]) != "II*\x00" ||
		binary.LittleEndian.Uint16(got[at+16:]) != 1 || binary.LittleEndian.Uint16(got[at+18:]) != 0x0112 ||
		binary.LittleEndian.Uint16(got[at+26:]) != 3 || binary.LittleEndian.Uint32(got[4:]) != uint32(len(got)-8) {
		t.Errorf("the served WebP's EXIF is not the orientation alone: flags %#x, % x", got[20], got[max(at, 0):])
	}
	if got, err := media.Probe(bytes.NewReader(got), int64(len(got)), media.WebP, media.DefaultLimits()); err != nil || got.Width != cfg.Width {
		t.Fatalf("served WebP: %+v %v", got, err)
	}

	// MP4: the muxer's udta box is blanked in place.
	mp4, _ := os.ReadFile("testdata/clip.mp4")
	out, got := r.stored(tok, "v.mp4", mp4)
	if len(got) != len(mp4) || bytes.Contains(got, []byte("udta")) || bytes.Contains(got, []byte("Lavf")) {
		t.Errorf("served video: %d bytes (%d uploaded), udta %v", len(got), len(mp4), bytes.Contains(got, []byte("udta")))
	}
	if out["duration_seconds"] != 2.0 || out["width"] != 64.0 {
		t.Fatalf("video %v", out)
	}
	if md, err := media.Probe(bytes.NewReader(got), int64(len(got)), media.MP4, media.DefaultLimits()); err != nil || md.Width != 64 {
		t.Fatalf("served video probes as %+v %v", md, err)
	}
}

func TestMediaFollowTheirPost(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := newRig(t, nil, func(c *media.Config) { c.Now = clock })
	me, tok := r.user()
	code, up := r.upload(tok, field{"file", "p.jpg", string(encoded(t, media.JPEG, 120, 90))})
	if code != http.StatusCreated {
		t.Fatalf("upload = %d %v", code, up)
	}
	mid := up["id"].(string)
	plainURL, _, _ := strings.Cut(up["url"].(string), "?")
	thumbURL, _, _ := strings.Cut(up["thumbnail_url"].(string), "?")
	if res := r.get(plainURL); res.Code != http.StatusNotFound {
		t.Fatalf("unattached upload without a signature = %d", res.Code)
	}

	// On a public post: anyone, any cache, at the plain URL.
	p, err := r.content.Create(r.ctx, me, content.NewPost{Content: "look", MediaIDs: []id.MediaID{id.MediaID(mid)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Media[0].URL; got != plainURL {
		t.Fatalf("public post shows %s, want the plain URL", got)
	}
	res := r.get(plainURL)
	if res.Code != http.StatusOK || res.Header().Get("Cache-Control") != "public, max-age=86400, immutable" {
		t.Fatalf("public media = %d %q", res.Code, res.Header().Get("Cache-Control"))
	}

	// Made private: the plain URL stops answering; the author is handed
	// signed URLs, cached privately for no longer than they live.
	priv := post.Private
	p, err = r.content.Update(r.ctx, me, id.PostID(p.ID), content.Change{Visibility: &priv})
	if err != nil {
		t.Fatal(err)
	}
	if res := r.get(plainURL); res.Code != http.StatusNotFound || !strings.Contains(res.Body.String(), `"not_found"`) {
		t.Fatalf("private media without a signature = %d %s", res.Code, res.Body)
	}
	if res := r.get(thumbURL); res.Code != http.StatusNotFound {
		t.Fatalf("private thumbnail without a signature = %d", res.Code)
	}
	got, err := r.content.Get(r.ctx, me, id.PostID(p.ID))
	if err != nil {
		t.Fatal(err)
	}
	signed := got.Media[0].URL
	res = r.get(signed)
	if res.Code != http.StatusOK || res.Header().Get("Cache-Control") == "" ||
		!strings.HasPrefix(res.Header().Get("Cache-Control"), "private, max-age=") {
		t.Fatalf("signed private media = %d %q", res.Code, res.Header().Get("Cache-Control"))
	}
	if res := r.get(got.Media[0].ThumbnailURL); res.Code != http.StatusOK {
		t.Fatalf("signed thumbnail = %d", res.Code)
	}
	for name, u := range map[string]string{
		"another key's signature": strings.Replace(signed, "original.jpg", "thumbnail.jpg", 1),
		"a changed expiry":        strings.Replace(signed, "expires=", "expires=9", 1),
		"a forged signature":      signed[:strings.Index(signed, "signature=")] + "signature=AAAA",
	} {
		if res := r.get(u); res.Code != http.StatusForbidden || !strings.Contains(res.Body.String(), `"forbidden"`) {
			t.Errorf("%s = %d %s", name, res.Code, res.Body)
		}
	}
	mu.Lock()
	now = now.Add(17 * time.Minute) // past the 15-minute life, rounded up to the minute
	mu.Unlock()
	if res := r.get(signed); res.Code != http.StatusForbidden || !strings.Contains(res.Body.String(), "expired") {
		t.Fatalf("expired signed URL = %d %s", res.Code, res.Body)
	}

	// Deleted: the files go from the store and answer 404 even signed.
	got, _ = r.content.Get(r.ctx, me, id.PostID(p.ID))
	signed = got.Media[0].URL
	if err := r.content.Delete(r.ctx, me, id.PostID(p.ID)); err != nil {
		t.Fatal(err)
	}
	if res := r.get(signed); res.Code != http.StatusNotFound {
		t.Fatalf("media of a deleted post = %d", res.Code)
	}
	if f := r.files(); len(f) != 0 {
		t.Fatalf("the store still holds %v", f)
	}
	if n := r.count(`SELECT count(*) FROM media WHERE id = $1`, mid); n != 0 {
		t.Fatalf("%d media rows left", n)
	}
	// And it can no longer be put on another post.
	if _, err := r.content.Create(r.ctx, me, content.NewPost{Content: "again", MediaIDs: []id.MediaID{id.MediaID(mid)}}); err == nil {
		t.Fatal("a deleted post's media was attached again")
	}
}

// Voice notes lose their tags (ID3, APE, RIFF INFO, MP4 udta) in place:
// the served file has the upload's length and duration, and none of what
// the recorder wrote about where or by whom.
func TestAudioLosesItsTags(t *testing.T) {
	r := newRig(t, nil, func(c *media.Config) { c.FFmpeg = "off" })
	_, tok := r.user()
	secret := []byte("48.8584N Alice's phone")

	// MP3: the muxer's ID3v2 tag replaced by one with a TXXX frame, an APEv2
	// tag and an ID3v1 tag at the end.
	mp3, _ := os.ReadFile("testdata/tone.mp3")
	frames := mp3[10+35:] // after the file's own 35-byte ID3v2 body
	frame := append([]byte("\x00GPS\x00"), secret...)
	id3 := append([]byte("ID3\x03\x00\x00"), 0, 0, 0, byte(10+len(frame)))
	id3 = append(id3, "TXXX"...)
	id3 = binary.BigEndian.AppendUint32(id3, uint32(len(frame)))
	id3 = append(id3, 0, 0)
	id3 = append(id3, frame...)
	var ape []byte
	item := append([]byte{byte(len(secret)), 0, 0, 0, 0, 0, 0, 0}, "Artist\x00"...)
	item = append(item, secret...)
	apeFooter := func(flags uint32) []byte {
		f := append([]byte("APETAGEX"), 0xD0, 0x07, 0, 0)
		f = binary.LittleEndian.AppendUint32(f, uint32(len(item)+32))
		f = binary.LittleEndian.AppendUint32(f, 1)
		f = binary.LittleEndian.AppendUint32(f, flags)
		return append(f, make([]byte, 8)...)
	}
	ape = append(append(ape, item...), apeFooter(0)...)
	v1 := append([]byte("TAG"), secret...)
	v1 = append(v1, make([]byte, 128-len(v1))...)
	upload := append(append(append(id3, frames...), ape...), v1...)

	// WAV: a LIST INFO chunk after the data.
	wav, _ := os.ReadFile("testdata/tone.wav")
	list := append([]byte("INFOINAM"), binary.LittleEndian.AppendUint32(nil, uint32(len(secret)))...)
	list = append(list, secret...)
	wavUp := append(append(append([]byte{}, wav...), "LIST"...), binary.LittleEndian.AppendUint32(nil, uint32(len(list)))...)
	wavUp = append(wavUp, list...)
	binary.LittleEndian.PutUint32(wavUp[4:], uint32(len(wavUp)-8))

	m4a, _ := os.ReadFile("testdata/tone.m4a")
	for _, c := range []struct {
		name   string
		file   []byte
		format media.Format
		gone   [][]byte
	}{
		{"note.mp3", upload, media.MP3, [][]byte{secret, []byte("TXXX")}},
		{"note.wav", wavUp, media.WAV, [][]byte{secret, []byte("INFO")}},
		{"note.m4a", m4a, media.M4A, [][]byte{[]byte("udta"), []byte("Lavf")}},
	} {
		want, err := media.Probe(bytes.NewReader(c.file), int64(len(c.file)), c.format, media.DefaultLimits())
		if err != nil {
			t.Fatalf("%s: the test file does not probe: %v", c.name, err)
		}
		_, got := r.stored(tok, c.name, c.file)
		for _, g := range c.gone {
			if bytes.Contains(got, g) {
				t.Errorf("%s: the served file keeps %q", c.name, g)
			}
		}
		served, err := media.Probe(bytes.NewReader(got), int64(len(got)), c.format, media.DefaultLimits())
		if err != nil || len(got) != len(c.file) || fmt.Sprint(deref(served.Duration)) != fmt.Sprint(deref(want.Duration)) {
			t.Errorf("%s: served %d bytes (%d uploaded), duration %v, %v; want the upload's length and duration %v",
				c.name, len(got), len(c.file), deref(served.Duration), err, deref(want.Duration))
		}
	}
}

func deref(d *float64) any {
	if d == nil {
		return nil
	}
	return *d
}
