package media

import (
	"bytes"
	"encoding/binary"
)

// Type is the kind of an uploaded file, as the API and MediaUploaded name
// it.
type Type string

// Types.
const (
	Image Type = "IMAGE"
	Video Type = "VIDEO"
	Audio Type = "AUDIO"
)

// Format is a file format recognised from its first bytes.
type Format struct {
	Type Type
	// Mime is the MIME type served and announced.
	Mime string
	// Ext is the extension of the stored object's key.
	Ext string
}

// Formats Nova accepts.
var (
	JPEG = Format{Image, "image/jpeg", "jpg"}
	PNG  = Format{Image, "image/png", "png"}
	GIF  = Format{Image, "image/gif", "gif"}
	WebP = Format{Image, "image/webp", "webp"}
	MP4  = Format{Video, "video/mp4", "mp4"}
	MOV  = Format{Video, "video/quicktime", "mov"}
	MP3  = Format{Audio, "audio/mpeg", "mp3"}
	WAV  = Format{Audio, "audio/wav", "wav"}
	OGG  = Format{Audio, "audio/ogg", "ogg"}
	AAC  = Format{Audio, "audio/aac", "aac"}
	M4A  = Format{Audio, "audio/mp4", "m4a"}
)

// SniffLen is how many leading bytes Sniff wants; fewer are fine for a
// shorter file.
const SniffLen = 64

// Sniff recognises a format from the first bytes of a file. The client's
// file name and Content-Type are never consulted: they are whatever the
// client says.
func Sniff(b []byte) (Format, bool) {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return JPEG, true
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, true
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return GIF, true
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return WebP, true
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WAVE":
		return WAV, true
	case bytes.HasPrefix(b, []byte("OggS")):
		return OGG, true
	case bytes.HasPrefix(b, []byte("ID3")):
		return MP3, true
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return sniffFtyp(b)
	case len(b) >= 2 && b[0] == 0xFF && b[1]&0xF6 == 0xF0:
		// ADTS: 12 sync bits, then MPEG version, layer 00.
		return AAC, true
	case len(b) >= 3 && b[0] == 0xFF && b[1]&0xE0 == 0xE0 && b[1]&0x06 != 0 && mp3HeaderValid(b):
		return MP3, true
	}
	return Format{}, false
}

// sniffFtyp tells MP4, QuickTime and M4A apart by the ISO base media file
// type box: its major brand, then its compatible brands.
func sniffFtyp(b []byte) (Format, bool) {
	size := int(binary.BigEndian.Uint32(b[0:4]))
	if size < 16 {
		return Format{}, false
	}
	brands := [][]byte{b[8:12]}
	for off := 16; off+4 <= size && off+4 <= len(b); off += 4 {
		brands = append(brands, b[off:off+4])
	}
	for _, br := range brands {
		switch string(br) {
		case "M4A ", "M4B ", "M4P ":
			return M4A, true
		case "qt  ":
			return MOV, true
		}
	}
	for _, br := range brands {
		switch string(br) {
		case "isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "dash", "MSNV", "M4V ", "3gp4", "3gp5", "3g2a", "mmp4", "f4v ":
			return MP4, true
		}
	}
	return Format{}, false
}

// mp3HeaderValid checks an MPEG audio frame header beyond its sync bits,
// so random bytes starting 0xFF are not taken for MP3.
func mp3HeaderValid(b []byte) bool {
	version := (b[1] >> 3) & 3
	bitrate := b[2] >> 4
	rate := (b[2] >> 2) & 3
	return version != 1 && bitrate != 0 && bitrate != 15 && rate != 3
}
