package media

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Audio keeps its bytes; the tags recorders and editors write (ID3, APE,
// RIFF INFO and its kin, MP4 udta/meta) are blanked in place, so no frame
// moves and the probe's duration still holds:
//
//   - MP3 and AAC: an ID3v2 tag at the start keeps its header and becomes
//     padding, an ID3v1 tag at the end keeps "TAG" and nothing after it, an
//     APEv2 tag before them keeps its header and footer with no items;
//   - WAV: LIST, id3, bext, iXML, XMP (_PMX), cart and DISP chunks become
//     JUNK chunks of zeros, which every reader skips;
//   - M4A: as MP4 (blankMP4Metadata).
//
// Ogg's comment header sits inside a checksummed page and is left as it is.

type readerWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// blankAudioTags blanks the tags of an audio file of format f in place.
func blankAudioTags(f readerWriterAt, size int64, format Format) error {
	switch format {
	case MP3, AAC:
		return blankID3(f, size)
	case WAV:
		return blankRIFFInfo(f, size)
	case M4A:
		return blankMP4Metadata(f, size)
	}
	return nil
}

// zero writes n zero bytes at off.
func zero(f io.WriterAt, off, n int64) error {
	zeros := make([]byte, min(n, 32<<10))
	for end := off + n; off < end; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), end-off)], off); err != nil {
			return fmt.Errorf("media: blank audio tags: %w", err)
		}
	}
	return nil
}

func blankID3(f readerWriterAt, size int64) error {
	var h [10]byte
	for off, i := int64(0), 0; off+10 <= size && i < maxBoxes; i++ {
		if _, err := f.ReadAt(h[:], off); err != nil || string(h[:3]) != "ID3" {
			break
		}
		// The size is syncsafe: 7 bits a byte; a footer adds 10 bytes.
		n := int64(h[6]&0x7f)<<21 | int64(h[7]&0x7f)<<14 | int64(h[8]&0x7f)<<7 | int64(h[9]&0x7f)
		if h[5]&0x10 != 0 {
			n += 10
		}
		n = min(n, size-off-10)
		// Flags off (no unsynchronisation, extended header or footer
		// left to describe), the body all padding.
		if _, err := f.WriteAt([]byte{0}, off+5); err != nil {
			return fmt.Errorf("media: blank ID3: %w", err)
		}
		if err := zero(f, off+10, n); err != nil {
			return err
		}
		off += 10 + n
	}
	end := size
	var tag [3]byte
	if size >= 128 {
		if _, err := f.ReadAt(tag[:], size-128); err == nil && string(tag[:]) == "TAG" {
			if err := zero(f, size-125, 125); err != nil {
				return err
			}
			end = size - 128
		}
	}
	// APEv2: a 32-byte footer ("APETAGEX", version, size of items and
	// footer, count, flags) at the end of what is left.
	var ape [32]byte
	if end >= 32 {
		if _, err := f.ReadAt(ape[:], end-32); err == nil && string(ape[:8]) == "APETAGEX" {
			n := int64(binary.LittleEndian.Uint32(ape[12:16])) // items and footer
			if n >= 32 && n <= end {
				if err := zero(f, end-n, n-32); err != nil {
					return err
				}
				// No items left.
				if _, err := f.WriteAt([]byte{0, 0, 0, 0}, end-32+16); err != nil {
					return fmt.Errorf("media: blank APE: %w", err)
				}
			}
		}
	}
	return nil
}

// riffMetadata are the WAV chunks that describe rather than sound.
var riffMetadata = map[string]bool{"LIST": true, "id3 ": true, "ID3 ": true, "bext": true, "iXML": true,
	"_PMX": true, "cart": true, "DISP": true}

func blankRIFFInfo(f readerWriterAt, size int64) error {
	var c [8]byte
	for off, i := int64(12), 0; off+8 <= size && i < maxBoxes; i++ {
		if _, err := f.ReadAt(c[:], off); err != nil {
			return fmt.Errorf("media: read WAV chunk: %w", err)
		}
		n := int64(binary.LittleEndian.Uint32(c[4:8]))
		if riffMetadata[string(c[:4])] {
			if _, err := f.WriteAt([]byte("JUNK"), off); err != nil {
				return fmt.Errorf("media: blank %q chunk: %w", c[:4], err)
			}
			if err := zero(f, off+8, min(n, size-off-8)); err != nil {
				return err
			}
		}
		off += 8 + n + n&1
	}
	return nil
}
