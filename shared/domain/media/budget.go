package media

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"time"

	"golang.org/x/sync/semaphore"
)

// ErrBusy: the server is decoding as many images as its memory budget
// allows and the upload waited too long for room; the client may retry.
var ErrBusy = errors.New("media: too many images being processed")

// budget bounds the memory all image decodes of a process hold at once: a
// decode takes its estimated bytes from a weighted semaphore before the
// first pixel is decoded and gives them back when the image is re-encoded.
// The pixel limits alone do not do this: a 16-bit RGBA image within them
// decodes to eight bytes a pixel, and nothing else stopped several from
// decoding at the same time.
type budget struct {
	sem  *semaphore.Weighted
	max  int64
	wait time.Duration
}

func newBudget(total int64, wait time.Duration) *budget {
	return &budget{sem: semaphore.NewWeighted(total), max: total, wait: wait}
}

// acquire takes n bytes of the budget, waiting at most b.wait; release
// gives them back.
func (b *budget) acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 1), b.max)
	wctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	if err := b.sem.Acquire(wctx, n); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // the request ended
		}
		return nil, fmt.Errorf("%w: waited %s for decoding memory", ErrBusy, b.wait)
	}
	return func() { b.sem.Release(n) }, nil
}

// bytesPerPixel is the size of a pixel as Go's decoders hold the colour
// model they announce; unknown models count as the largest.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at most; 4:2:0 takes half
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// decodeCost estimates the bytes decoding and re-encoding an image holds:
// the decoded pixels, a second copy when they must be turned upright, and
// another when an interlaced PNG is decoded pass by pass.
func decodeCost(cfg image.Config, rotate, interlaced bool) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	n := px * bytesPerPixel(cfg.ColorModel)
	if rotate {
		n *= 2
	}
	if interlaced {
		n += px * bytesPerPixel(cfg.ColorModel)
	}
	// Buffers, the thumbnail and the encoder's state.
	return n + 1<<20
}
