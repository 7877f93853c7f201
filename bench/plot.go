package main

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strconv"
	"strings"
)

// A small line plot written with the standard library only: log-scaled
// axes, one polyline with markers per tool, a legend, and text in a 5x7
// bitmap font (upper case), so the harness needs no plotting package.

// series is one tool's median start time (ms) per closure size.
type series struct {
	name   string
	points map[int]float64
}

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x94, 0x67, 0xbd, 0xff}, // purple
}

type canvas struct{ *image.RGBA }

func (c canvas) set(x, y int, col color.RGBA) {
	if image.Pt(x, y).In(c.Rect) {
		c.SetRGBA(x, y, col)
	}
}

// dot draws a filled square of half-width r.
func (c canvas) dot(x, y, r int, col color.RGBA) {
	for dx := -r; dx <= r; dx++ {
		for dy := -r; dy <= r; dy++ {
			c.set(x+dx, y+dy, col)
		}
	}
}

// line draws a line of the given width (Bresenham, thickened).
func (c canvas) line(x0, y0, x1, y1, w int, col color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		c.dot(x0, y0, w/2, col)
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

// dashed draws a 1-pixel horizontal or vertical dotted grid line.
func (c canvas) dashed(x0, y0, x1, y1 int, col color.RGBA) {
	if x0 == x1 {
		for y := min(y0, y1); y <= max(y0, y1); y += 4 {
			c.set(x0, y, col)
			c.set(x0, y+1, col)
		}
		return
	}
	for x := min(x0, x1); x <= max(x0, x1); x += 4 {
		c.set(x, y0, col)
		c.set(x+1, y0, col)
	}
}

// text draws s (upper-cased) with its top-left corner at x, y, each font
// pixel scale x scale; it returns the width drawn.
func (c canvas) text(x, y, scale int, s string, col color.RGBA) int {
	s = strings.ToUpper(s)
	cx := x
	for _, r := range s {
		g, ok := font[r]
		if !ok {
			g = font['?']
		}
		for row, bits := range g {
			for colIdx, ch := range bits {
				if ch != '#' {
					continue
				}
				for i := 0; i < scale; i++ {
					for j := 0; j < scale; j++ {
						c.set(cx+colIdx*scale+i, y+row*scale+j, col)
					}
				}
			}
		}
		cx += 6 * scale
	}
	return cx - x
}

func textWidth(s string, scale int) int { return len([]rune(s)) * 6 * scale }

// writePlot draws median start time against closure size, both log-scaled.
func writePlot(path, title string, sizes []int, all []series) error {
	const W, H = 960, 600
	const left, right, top, bottom = 90, 200, 60, 70
	img := canvas{image.NewRGBA(image.Rect(0, 0, W, H))}
	white := color.RGBA{0xff, 0xff, 0xff, 0xff}
	black := color.RGBA{0, 0, 0, 0xff}
	grey := color.RGBA{0xc8, 0xc8, 0xc8, 0xff}
	for x := 0; x < W; x++ {
		for y := 0; y < H; y++ {
			img.SetRGBA(x, y, white)
		}
	}

	// Axis ranges: x over the sizes, y over decades covering the data.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range all {
		for _, v := range s.points {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 1, 10
	}
	ylo := math.Pow(10, math.Floor(math.Log10(lo)))
	yhi := math.Pow(10, math.Ceil(math.Log10(hi)))
	if yhi <= ylo {
		yhi = ylo * 10
	}
	xlo, xhi := float64(sizes[0])/1.5, float64(sizes[len(sizes)-1])*1.5
	px := func(n float64) int {
		return left + int(float64(W-left-right)*(math.Log(n)-math.Log(xlo))/(math.Log(xhi)-math.Log(xlo)))
	}
	py := func(v float64) int {
		return H - bottom - int(float64(H-top-bottom)*(math.Log(v)-math.Log(ylo))/(math.Log(yhi)-math.Log(ylo)))
	}

	// Grid and tick labels.
	for d := ylo; d <= yhi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := d * m
			if v > yhi*1.0001 {
				break
			}
			y := py(v)
			img.dashed(left, y, W-right, y, grey)
			lbl := strconv.FormatFloat(v, 'f', -1, 64)
			img.text(left-10-textWidth(lbl, 2), y-7, 2, lbl, black)
		}
	}
	for _, n := range sizes {
		x := px(float64(n))
		img.dashed(x, top, x, H-bottom, grey)
		lbl := strconv.Itoa(n)
		img.text(x-textWidth(lbl, 2)/2, H-bottom+10, 2, lbl, black)
	}
	img.line(left, top, left, H-bottom, 2, black)
	img.line(left, H-bottom, W-right, H-bottom, 2, black)

	// Titles.
	img.text((W-textWidth(title, 2))/2, 8, 2, title, black)
	xl := "closure size (store paths, log scale)"
	img.text(left+(W-left-right-textWidth(xl, 2))/2, H-bottom+40, 2, xl, black)
	yl := "ms (log)"
	img.text(8, top-24, 2, yl, black)

	// Series and legend.
	ly := top + 10
	for i, s := range all {
		col := palette[i%len(palette)]
		px0, py0, have := 0, 0, false
		for _, n := range sizes {
			v, ok := s.points[n]
			if !ok || v <= 0 {
				have = false // a gap: not measured at this size
				continue
			}
			x, y := px(float64(n)), py(v)
			if have {
				img.line(px0, py0, x, y, 3, col)
			}
			img.dot(x, y, 4, col)
			px0, py0, have = x, y, true
		}
		lx := W - right + 20
		img.line(lx, ly+6, lx+30, ly+6, 3, col)
		img.dot(lx+15, ly+6, 4, col)
		name := s.name
		if len(s.points) == 0 {
			name += " (n/a)"
		}
		img.text(lx+40, ly, 2, name, black)
		ly += 26
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// font is a 5x7 bitmap font: digits, upper-case letters and a little
// punctuation.
var font = map[rune][7]string{
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',': {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	':': {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'/': {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'=': {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'?': {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
}
