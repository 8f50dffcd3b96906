package media

import "context"

// HoldDecodeMemory takes n bytes of s's decoding budget, as an image being
// decoded would, until release is called.
func HoldDecodeMemory(ctx context.Context, s *Service, n int64) (release func(), err error) {
	return s.decode.acquire(ctx, n)
}
