package media_test

import (
	"hash/crc32"

	"google.golang.org/protobuf/proto"
)

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func fmtDur(d *float64) any {
	if d == nil {
		return "none"
	}
	return *d
}

func protoUnmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }
