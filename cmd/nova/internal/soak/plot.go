package soak

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The plot's geometry: one panel per series, stacked, sharing the time axis.
const (
	plotWidth   = 900
	panelHeight = 150
	marginLeft  = 90
	marginRight = 20
	marginTop   = 22
	marginBot   = 24
)

var (
	ink     = color.RGBA{0x22, 0x22, 0x22, 0xff}
	grid    = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	line    = color.RGBA{0x1f, 0x6f, 0xb4, 0xff}
	warming = color.RGBA{0xf3, 0xf3, 0xf3, 0xff}
)

type series struct {
	title string
	value func(Sample) float64
}

func plotted() []series {
	return []series{
		{"resident memory (MiB)", func(s Sample) float64 { return float64(s.RSS) / (1 << 20) }},
		{"Go heap in use (MiB)", func(s Sample) float64 { return float64(s.Heap) / (1 << 20) }},
		{"goroutines", func(s Sample) float64 { return float64(s.Goroutines) }},
		{"open files", func(s Sample) float64 { return float64(s.FDs) }},
		{"PostgreSQL connections", func(s Sample) float64 { return float64(s.PGConns) }},
	}
}

// Plot draws samples as a PNG: a panel per series against minutes, the
// warm-up shaded, each panel's range written on its axis.
func Plot(w io.Writer, samples []Sample, warmUp time.Duration) error {
	if len(samples) < 2 {
		return fmt.Errorf("soak: %d samples: nothing to plot", len(samples))
	}
	ss := plotted()
	img := image.NewRGBA(image.Rect(0, 0, plotWidth, panelHeight*len(ss)))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	end := samples[len(samples)-1].At
	for i, s := range ss {
		top := i * panelHeight
		r := image.Rect(marginLeft, top+marginTop, plotWidth-marginRight, top+panelHeight-marginBot)
		drawPanel(img, r, s, samples, end, warmUp)
	}
	return png.Encode(w, img)
}

func drawPanel(img *image.RGBA, r image.Rectangle, s series, samples []Sample, end, warmUp time.Duration) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, smp := range samples {
		v := s.value(smp)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	// From zero, so a flat series looks flat and growth reads as a share.
	lo = math.Min(lo, 0)
	if hi <= lo {
		hi = lo + 1
	}
	hi *= 1.1
	x := func(at time.Duration) int {
		return r.Min.X + int(float64(r.Dx())*at.Seconds()/math.Max(end.Seconds(), 1))
	}
	y := func(v float64) int { return r.Max.Y - int(float64(r.Dy())*(v-lo)/(hi-lo)) }
	if warmUp > 0 {
		draw.Draw(img, image.Rect(r.Min.X, r.Min.Y, min(x(warmUp), r.Max.X), r.Max.Y), image.NewUniform(warming), image.Point{}, draw.Src)
	}
	for k := 1; k < 4; k++ {
		gy := r.Min.Y + k*r.Dy()/4
		hline(img, r.Min.X, r.Max.X, gy, grid)
	}
	hline(img, r.Min.X, r.Max.X, r.Max.Y, ink)
	vline(img, r.Min.X, r.Min.Y, r.Max.Y, ink)
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		segment(img, x(a.At), y(s.value(a)), x(b.At), y(s.value(b)), line)
	}
	text(img, r.Min.X, r.Min.Y-6, s.title)
	text(img, 4, r.Min.Y+10, fmt.Sprintf("%.0f", hi))
	text(img, 4, r.Max.Y, fmt.Sprintf("%.0f", lo))
	text(img, r.Min.X, r.Max.Y+16, "0 min")
	end0 := fmt.Sprintf("%.0f min", end.Minutes())
	text(img, r.Max.X-7*len(end0), r.Max.Y+16, end0)
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

// segment draws a line two pixels thick (Bresenham).
func segment(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0-1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func text(img *image.RGBA, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(ink), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
