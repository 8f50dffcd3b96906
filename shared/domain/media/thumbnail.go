package media

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os/exec"
	"time"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// DecodeImage decodes a whole image of format f. Call it only after Probe
// accepted the image's dimensions.
func DecodeImage(r io.Reader, f Format) (image.Image, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		img image.Image
		err error
	)
	switch f {
	case JPEG:
		img, err = jpeg.Decode(br)
	case PNG:
		img, err = png.Decode(br)
	case GIF:
		img, err = gif.Decode(br) // the first frame
	case WebP:
		img, err = webp.Decode(br)
	default:
		return nil, fmt.Errorf("%w: %s is not an image", ErrUnsupported, f.Mime)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, f.Mime, err)
	}
	return img, nil
}

// Thumbnail scales img to fit in an edge×edge box (never enlarging) and encodes
// it as JPEG. ApproxBiLinear samples only the source pixels each output
// pixel needs, so scaling a 12-megapixel photo costs a few milliseconds
// beside its ~200 ms decode (BiLinear, which filters every source pixel,
// doubled the total); the price is some aliasing on fine patterns, which a
// 320-pixel preview tolerates.
func Thumbnail(img image.Image, edge int) ([]byte, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > edge || h > edge {
		if w >= h {
			w, h = edge, edge*h/w
		} else {
			w, h = edge*w/h, edge
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	// Transparent areas turn white rather than black in the JPEG.
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Over, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 80}); err != nil {
		return nil, fmt.Errorf("media: thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrNoDecoder: no video decoder (ffmpeg) is available; the video is kept
// without a thumbnail.
var ErrNoDecoder = errors.New("media: no video decoder available")

// VideoFrame grabs one frame of the video at path (one second in, or the
// first frame of a shorter clip) as a JPEG thumbnail through ffmpeg.
func VideoFrame(ctx context.Context, ffmpeg, path string, edge int) ([]byte, error) {
	if ffmpeg == "off" {
		return nil, ErrNoDecoder
	}
	bin, err := exec.LookPath(ffmpeg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDecoder, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	scale := fmt.Sprintf("scale='min(%d,iw)':'min(%d,ih)':force_original_aspect_ratio=decrease", edge, edge)
	var frame []byte
	for _, at := range []string{"1", "0"} {
		var out, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, "-nostdin", "-v", "error", "-ss", at, "-i", path,
			"-frames:v", "1", "-vf", scale, "-f", "image2", "-c:v", "mjpeg", "-q:v", "5", "pipe:1")
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("media: ffmpeg: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
		}
		if out.Len() > 0 {
			frame = out.Bytes()
			break
		}
	}
	if frame == nil {
		return nil, errors.New("media: ffmpeg found no video frame")
	}
	return frame, nil
}
