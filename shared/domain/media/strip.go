package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
)

// Nova publishes what users upload, so nothing the camera or an editor
// wrote beside the picture may go with it: EXIF (GPS position, camera
// serial numbers, the time), XMP and comments. How each format is cleaned:
//
//   - JPEG and PNG are decoded, turned upright by their EXIF orientation and
//     encoded again, which writes pixels only (a JPEG keeps its ICC profile,
//     so colours stay as shot);
//   - GIF is copied block by block without comments or application
//     extensions other than the animation loop;
//   - WebP (for which Go has no encoder) is copied chunk by chunk without its
//     EXIF and XMP chunks; a picture that is not upright gets an EXIF chunk
//     of its own that holds the orientation alone;
//   - MP4 and MOV keep their bytes, but the metadata boxes (udta, meta, the
//     XMP uuid box) are overwritten in place by free boxes of the same size,
//     so no offset into the media data moves.

// jpegQuality is the quality photos are encoded again with: high enough
// that a second generation is not visibly worse.
const jpegQuality = 90

// encodeImage writes img as format f with no metadata; icc segments are
// put back after a JPEG's start of image marker.
func encodeImage(w io.Writer, img image.Image, f Format, icc [][]byte) error {
	switch f {
	case JPEG:
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
			return fmt.Errorf("media: encode JPEG: %w", err)
		}
		out := buf.Bytes()
		if _, err := w.Write(out[:2]); err != nil { // SOI
			return err
		}
		for _, seg := range icc {
			if _, err := w.Write(seg); err != nil {
				return err
			}
		}
		_, err := w.Write(out[2:])
		return err
	case PNG:
		if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(w, img); err != nil {
			return fmt.Errorf("media: encode PNG: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w: %s is not encoded again", ErrUnsupported, f.Mime)
}

// stripGIF copies a GIF leaving out comment extensions and application
// extensions other than the loop count's (NETSCAPE2.0, ANIMEXTS1.0), where
// XMP and other editors' data live. Writes go to a bufio.Writer, which
// keeps the first error for Flush to report.
func stripGIF(dst io.Writer, src io.Reader) error {
	r := bufio.NewReaderSize(src, 32<<10)
	w := bufio.NewWriterSize(dst, 32<<10)
	corrupt := func(what string, err error) error {
		return fmt.Errorf("%w: GIF %s: %w", ErrCorrupt, what, err)
	}
	var hdr [13]byte // header and logical screen descriptor
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return corrupt("header", err)
	}
	_, _ = w.Write(hdr[:])
	if hdr[10]&0x80 != 0 {
		if _, err := io.CopyN(w, r, 3<<(hdr[10]&7+1)); err != nil {
			return corrupt("colour table", err)
		}
	}
	for {
		b, err := r.ReadByte()
		if err != nil {
			return corrupt("block", err)
		}
		switch b {
		case 0x3B: // trailer
			_ = w.WriteByte(b)
			return w.Flush()
		case 0x2C: // image
			var d [9]byte
			if _, err := io.ReadFull(r, d[:]); err != nil {
				return corrupt("image descriptor", err)
			}
			_ = w.WriteByte(b)
			_, _ = w.Write(d[:])
			if d[8]&0x80 != 0 {
				if _, err := io.CopyN(w, r, 3<<(d[8]&7+1)); err != nil {
					return corrupt("colour table", err)
				}
			}
			lzw, err := r.ReadByte()
			if err != nil {
				return corrupt("image data", err)
			}
			_ = w.WriteByte(lzw)
			if err := copySubBlocks(w, r); err != nil {
				return corrupt("image data", err)
			}
		case 0x21: // extension
			label, err := r.ReadByte()
			if err != nil {
				return corrupt("extension", err)
			}
			keep := label != 0xFE // comments go
			var first []byte
			if label == 0xFF {
				n, err := r.ReadByte()
				if err != nil {
					return corrupt("extension", err)
				}
				first = make([]byte, n)
				if _, err := io.ReadFull(r, first); err != nil {
					return corrupt("extension", err)
				}
				keep = bytes.Equal(first, []byte("NETSCAPE2.0")) || bytes.Equal(first, []byte("ANIMEXTS1.0"))
				first = append([]byte{n}, first...)
			}
			out := io.Writer(w)
			if !keep {
				out = io.Discard
			}
			_, _ = out.Write([]byte{b, label})
			_, _ = out.Write(first)
			if err := copySubBlocks(out, r); err != nil {
				return corrupt("extension", err)
			}
		default:
			return fmt.Errorf("%w: GIF block 0x%02x", ErrCorrupt, b)
		}
	}
}

// copySubBlocks copies data sub-blocks up to and including the empty one
// that ends them.
func copySubBlocks(w io.Writer, r *bufio.Reader) error {
	for {
		n, err := r.ReadByte()
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte{n}); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := io.CopyN(w, r, int64(n)); err != nil {
			return err
		}
	}
}

// stripWebP copies a WebP without its EXIF and XMP chunks, clearing their
// flags in the VP8X header. When o is not Upright the copy ends with an
// EXIF chunk holding o alone (and announces it), so the picture still
// shows the right way up; a file with an EXIF chunk is an extended one, so
// it has the VP8X header that announcement needs.
func stripWebP(dst io.Writer, src io.ReaderAt, size int64, o Orientation) error {
	var hdr [12]byte
	if _, err := src.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("%w: WebP header: %w", ErrCorrupt, err)
	}
	end := min(size, 8+int64(binary.LittleEndian.Uint32(hdr[4:8])))
	type chunk struct{ off, n int64 } // the whole chunk, padding included
	var keep []chunk
	total := int64(4) // "WEBP"
	vp8x := false
	var c [8]byte
	for off, i := int64(12), 0; off+8 <= end; i++ {
		if i > maxBoxes {
			return fmt.Errorf("%w: too many WebP chunks", ErrCorrupt)
		}
		if _, err := src.ReadAt(c[:], off); err != nil {
			return fmt.Errorf("%w: WebP chunk: %w", ErrCorrupt, err)
		}
		n := 8 + int64(binary.LittleEndian.Uint32(c[4:8]))
		n += n & 1
		if n > end-off {
			return fmt.Errorf("%w: WebP chunk %q past the end", ErrCorrupt, c[:4])
		}
		t := string(c[:4])
		if t == "VP8X" {
			vp8x = true
		}
		if t != "EXIF" && t != "XMP " {
			keep = append(keep, chunk{off, n})
			total += n
		}
		off += n
	}
	var exif []byte
	if o != Upright && vp8x {
		exif = orientationEXIF(o)
		total += int64(len(exif))
	}
	binary.LittleEndian.PutUint32(hdr[4:8], uint32(total))
	if _, err := dst.Write(hdr[:]); err != nil {
		return err
	}
	for _, k := range keep {
		from := k.off
		// VP8X: fourcc, size, then the flags byte, where EXIF and XMP are
		// announced.
		if head := make([]byte, 9); k.n >= 18 {
			if _, err := src.ReadAt(head, k.off); err == nil && string(head[:4]) == "VP8X" {
				head[8] &^= 0x08 | 0x04
				if exif != nil {
					head[8] |= 0x08
				}
				if _, err := dst.Write(head); err != nil {
					return err
				}
				from += 9
			}
		}
		if _, err := io.Copy(dst, io.NewSectionReader(src, from, k.off+k.n-from)); err != nil {
			return err
		}
	}
	_, err := dst.Write(exif)
	return err
}

// orientationEXIF is a WebP EXIF chunk whose TIFF structure holds one tag,
// the orientation (0x0112, a SHORT), and nothing else.
func orientationEXIF(o Orientation) []byte {
	tiff := []byte("II*\x00")
	tiff = binary.LittleEndian.AppendUint32(tiff, 8) // the first IFD
	tiff = binary.LittleEndian.AppendUint16(tiff, 1) // one entry
	tiff = binary.LittleEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.LittleEndian.AppendUint16(tiff, 3) // SHORT
	tiff = binary.LittleEndian.AppendUint32(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, uint16(o))
	tiff = binary.LittleEndian.AppendUint16(tiff, 0)
	tiff = binary.LittleEndian.AppendUint32(tiff, 0) // no next IFD
	chunk := append([]byte("EXIF"), binary.LittleEndian.AppendUint32(nil, uint32(len(tiff)))...)
	return append(chunk, tiff...) // 26 bytes of data: no padding
}

// xmpUUID is the uuid box Adobe's tools put XMP in.
var xmpUUID = []byte{0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC}

// blankMP4Metadata overwrites, in place, the boxes of an MP4 or MOV that
// hold metadata (udta and meta in moov and in each track, top-level XMP)
// with free boxes of the same size: players skip them, and every offset
// into the media data stays as it was.
func blankMP4Metadata(f interface {
	io.ReaderAt
	io.WriterAt
}, size int64) error {
	blank := func(b box) error {
		if _, err := f.WriteAt([]byte("free"), b.start+4); err != nil {
			return fmt.Errorf("media: blank %s box: %w", b.typ, err)
		}
		zeros := make([]byte, min(b.end-b.payload, 32<<10))
		for off := b.payload; off < b.end; off += int64(len(zeros)) {
			if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), b.end-off)], off); err != nil {
				return fmt.Errorf("media: blank %s box: %w", b.typ, err)
			}
		}
		return nil
	}
	var inner func(b box) (bool, error)
	inner = func(b box) (bool, error) {
		switch b.typ {
		case "udta", "meta":
			return false, blank(b)
		case "trak":
			return false, readBoxes(f, b.payload, b.end, inner)
		}
		return false, nil
	}
	return readBoxes(f, 0, size, func(b box) (bool, error) {
		switch b.typ {
		case "moov":
			return false, readBoxes(f, b.payload, b.end, inner)
		case "meta":
			return false, blank(b)
		case "uuid":
			var u [16]byte
			if _, err := f.ReadAt(u[:], b.payload); err == nil && bytes.Equal(u[:], xmpUUID) {
				return false, blank(b)
			}
		}
		return false, nil
	})
}
