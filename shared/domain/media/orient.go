package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"image"
	"image/draw"
	"io"
)

// Orientation is the EXIF orientation tag (1..8): how the stored pixels
// must be turned to show upright. Metadata is stripped from what Nova
// stores, so the turn is applied to the pixels instead.
type Orientation int

// Upright is the orientation that needs no turn.
const Upright Orientation = 1

// swapsSides reports whether the orientation turns the image a quarter,
// exchanging width and height.
func (o Orientation) swapsSides() bool { return o >= 5 && o <= 8 }

// header is what the bytes before the pixels say that decoding needs:
// the EXIF orientation, the ICC profile segments of a JPEG (kept, so
// colours do not shift when the metadata goes), and whether a PNG is
// interlaced.
type header struct {
	orientation Orientation
	icc         [][]byte // whole APP2 segments, marker included
	interlaced  bool
}

// maxHeaderScan bounds how far into a file the metadata is looked for.
const maxHeaderScan = 1 << 20

// readHeader reads the header of an image of format f. It never fails: a
// header it cannot read leaves the image as the decoder will see it.
func readHeader(r io.ReaderAt, size int64, f Format) header {
	h := header{orientation: Upright}
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, min(size, maxHeaderScan)), 16<<10)
	switch f {
	case JPEG:
		readJPEGHeader(br, &h)
	case PNG:
		readPNGHeader(br, &h)
	case WebP:
		readWebPOrientation(r, size, &h)
	}
	return h
}

// readWebPOrientation finds a WebP's EXIF chunk, which follows the image
// data, by walking the chunk headers, and reads its orientation.
func readWebPOrientation(r io.ReaderAt, size int64, h *header) {
	var c [8]byte
	for off, i := int64(12), 0; off+8 <= size && i < maxBoxes; i++ {
		if _, err := r.ReadAt(c[:], off); err != nil {
			return
		}
		n := int64(binary.LittleEndian.Uint32(c[4:8]))
		if string(c[:4]) == "EXIF" {
			if n > maxHeaderScan || n > size-off-8 {
				return
			}
			data := make([]byte, n)
			if _, err := r.ReadAt(data, off+8); err != nil {
				return
			}
			// Some writers keep JPEG's APP1 prefix.
			if o, ok := tiffOrientation(bytes.TrimPrefix(data, []byte("Exif\x00\x00"))); ok {
				h.orientation = o
			}
			return
		}
		off += 8 + n + n&1
	}
}

func readJPEGHeader(br *bufio.Reader, h *header) {
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xFF, 0xD8} {
		return
	}
	for {
		var m [4]byte
		if _, err := io.ReadFull(br, m[:2]); err != nil || m[0] != 0xFF {
			return
		}
		for m[1] == 0xFF { // fill bytes
			b, err := br.ReadByte()
			if err != nil {
				return
			}
			m[1] = b
		}
		if m[1] == 0xDA || m[1] == 0xD9 { // start of scan, end of image
			return
		}
		if m[1] >= 0xD0 && m[1] <= 0xD7 || m[1] == 0x01 { // no length
			continue
		}
		if _, err := io.ReadFull(br, m[2:4]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(m[2:4])) - 2
		if n < 0 {
			return
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(br, seg); err != nil {
			return
		}
		switch {
		case m[1] == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")):
			if o, ok := tiffOrientation(seg[6:]); ok {
				h.orientation = o
			}
		case m[1] == 0xE2 && bytes.HasPrefix(seg, []byte("ICC_PROFILE\x00")):
			h.icc = append(h.icc, append(m[:], seg...))
		}
	}
}

func readPNGHeader(br *bufio.Reader, h *header) {
	if _, err := br.Discard(8); err != nil {
		return
	}
	for range maxBoxes {
		var c [8]byte
		if _, err := io.ReadFull(br, c[:]); err != nil {
			return
		}
		n, typ := binary.BigEndian.Uint32(c[:4]), string(c[4:8])
		if typ == "IDAT" || n > maxHeaderScan {
			return
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(br, data); err != nil {
			return
		}
		switch typ {
		case "IHDR":
			h.interlaced = n >= 13 && data[12] == 1
		case "eXIf":
			if o, ok := tiffOrientation(data); ok {
				h.orientation = o
			}
		}
		if _, err := br.Discard(4); err != nil { // CRC
			return
		}
	}
}

// tiffOrientation reads tag 0x0112 of the first IFD of a TIFF structure
// (the body of EXIF).
func tiffOrientation(b []byte) (Orientation, bool) {
	if len(b) < 8 {
		return 0, false
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0, false
	}
	off := int64(bo.Uint32(b[4:8]))
	if off < 8 || off+2 > int64(len(b)) {
		return 0, false
	}
	n := int64(bo.Uint16(b[off:]))
	for i := range n {
		e := off + 2 + 12*i
		if e+12 > int64(len(b)) {
			return 0, false
		}
		if bo.Uint16(b[e:]) == 0x0112 && bo.Uint16(b[e+2:]) == 3 { // SHORT
			o := Orientation(bo.Uint16(b[e+8:]))
			if o < 1 || o > 8 {
				return 0, false
			}
			return o, true
		}
	}
	return 0, false
}

// Orient turns img upright as its EXIF orientation says. Planes are moved
// as they are, so a YCbCr photo stays YCbCr (half the memory of RGBA and
// no colour conversion); the rare layouts without a planar path are drawn
// into RGBA first.
func Orient(img image.Image, o Orientation) image.Image {
	if o <= Upright || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o.swapsSides() {
		dw, dh = h, w
	}
	rect := image.Rect(0, 0, dw, dh)
	switch m := img.(type) {
	case *image.YCbCr:
		ratio, ok := turnedRatio(m.SubsampleRatio, o)
		if !ok {
			break
		}
		out := image.NewYCbCr(rect, ratio)
		turnPlane(out.Y, out.YStride, m.Y[m.YOffset(b.Min.X, b.Min.Y):], m.YStride, w, h, 1, o)
		cw, ch := chromaSize(m.SubsampleRatio, w, h)
		co := m.COffset(b.Min.X, b.Min.Y)
		turnPlane(out.Cb, out.CStride, m.Cb[co:], m.CStride, cw, ch, 1, o)
		turnPlane(out.Cr, out.CStride, m.Cr[co:], m.CStride, cw, ch, 1, o)
		return out
	case *image.Gray:
		out := image.NewGray(rect)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 1, o)
		return out
	case *image.Gray16:
		out := image.NewGray16(rect)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 2, o)
		return out
	case *image.CMYK:
		out := image.NewCMYK(rect)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, o)
		return out
	case *image.NRGBA:
		out := image.NewNRGBA(rect)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, o)
		return out
	case *image.RGBA:
		out := image.NewRGBA(rect)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, o)
		return out
	case *image.NRGBA64:
		out := image.NewNRGBA64(rect)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 8, o)
		return out
	case *image.RGBA64:
		out := image.NewRGBA64(rect)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 8, o)
		return out
	case *image.Paletted:
		out := image.NewPaletted(rect, m.Palette)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 1, o)
		return out
	}
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	return Orient(rgba, o)
}

// turnedRatio is the chroma subsampling after the turn: a quarter turn
// exchanges horizontal and vertical subsampling.
func turnedRatio(r image.YCbCrSubsampleRatio, o Orientation) (image.YCbCrSubsampleRatio, bool) {
	if !o.swapsSides() {
		return r, true
	}
	switch r {
	case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420:
		return r, true
	case image.YCbCrSubsampleRatio422:
		return image.YCbCrSubsampleRatio440, true
	case image.YCbCrSubsampleRatio440:
		return image.YCbCrSubsampleRatio422, true
	}
	return r, false // 4:1:1 and 4:1:0 have no turned counterpart
}

// chromaSize is the size of a chroma plane of a w×h image at (0,0).
func chromaSize(r image.YCbCrSubsampleRatio, w, h int) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// turnPlane writes the w×h plane src (bpp bytes a pixel) into dst turned
// by o. Each output pixel is read from where the orientation says it was
// stored.
func turnPlane(dst []byte, dstStride int, src []byte, srcStride, w, h, bpp int, o Orientation) {
	dw, dh := w, h
	if o.swapsSides() {
		dw, dh = h, w
	}
	for y := range dh {
		row := dst[y*dstStride : y*dstStride+dw*bpp]
		for x := range dw {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			default:
				sx, sy = x, y
			}
			s := sy*srcStride + sx*bpp
			copy(row[x*bpp:x*bpp+bpp], src[s:s+bpp])
		}
	}
}
