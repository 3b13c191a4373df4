package screen

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"github.com/hajimehoshi/ebiten/v2/text/v2"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

const ellipsis = "…"

// fonts are the embedded faces; sizes are made per use (a GoTextFace is a
// small value, glyphs are cached by the source).
type fonts struct {
	regular *text.GoTextFaceSource
	bold    *text.GoTextFaceSource
}

func loadFonts() (fonts, error) {
	r, err := text.NewGoTextFaceSource(bytes.NewReader(goregular.TTF))
	if err != nil {
		return fonts{}, fmt.Errorf("load Go Regular font: %w", err)
	}
	b, err := text.NewGoTextFaceSource(bytes.NewReader(gobold.TTF))
	if err != nil {
		return fonts{}, fmt.Errorf("load Go Bold font: %w", err)
	}
	return fonts{regular: r, bold: b}, nil
}

func (f fonts) face(bold bool, size float64) *text.GoTextFace {
	if bold {
		return &text.GoTextFace{Source: f.bold, Size: size}
	}
	return &text.GoTextFace{Source: f.regular, Size: size}
}

// clean drops control characters a notice might carry (tabs, bidi
// overrides, zero-width joiners out of place) except newlines.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
}

// ellipsize cuts s so that it fits width, ending with "…" when cut.
func ellipsize(s string, face text.Face, width float64) string {
	s = strings.ReplaceAll(clean(s), "\n", " ")
	if text.Advance(s, face) <= width {
		return s
	}
	return cutWithEllipsis(s, face, width)
}

// cutWithEllipsis returns the longest prefix of s that fits width followed
// by "…"; it always adds the ellipsis.
func cutWithEllipsis(s string, face text.Face, width float64) string {
	r := []rune(s)
	// Binary search the longest prefix that fits with the ellipsis.
	lo, hi := 0, len(r)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if text.Advance(strings.TrimRight(string(r[:mid]), " ")+ellipsis, face) <= width {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return strings.TrimRight(string(r[:lo]), " ") + ellipsis
}

// wrap breaks s into at most maxLines lines no wider than width, breaking
// at spaces, inside words only when one word is wider than a line, and
// ellipsizing the last line when text remains.
func wrap(s string, face text.Face, width float64, maxLines int) []string {
	if maxLines <= 0 {
		return nil
	}
	var lines []string
	for _, para := range strings.Split(clean(s), "\n") {
		words := strings.Fields(para)
		line := ""
		for len(words) > 0 {
			w := words[0]
			cand := w
			if line != "" {
				cand = line + " " + w
			}
			switch {
			case text.Advance(cand, face) <= width:
				line = cand
				words = words[1:]
			case line != "":
				lines = append(lines, line)
				line = ""
			default:
				// A word wider than the line: cut it where it stops fitting.
				r := []rune(w)
				n := 1
				for n < len(r) && text.Advance(string(r[:n+1]), face) <= width {
					n++
				}
				lines = append(lines, string(r[:n]))
				words[0] = string(r[n:])
			}
			if len(lines) > maxLines {
				break
			}
		}
		if line != "" {
			lines = append(lines, line)
		}
		if len(lines) > maxLines {
			break
		}
	}
	if len(lines) > maxLines {
		lines = lines[:maxLines]
		lines[maxLines-1] = cutWithEllipsis(lines[maxLines-1], face, width)
	}
	return lines
}
