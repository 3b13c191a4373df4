package screen

import (
	"image"
	"math"
	"runtime/debug"

	"github.com/hajimehoshi/ebiten/v2"
	"golang.org/x/image/draw"
)

// mediaKey names a notice image at the size it is shown at.
type mediaKey struct {
	sha  string
	w, h float64
}

// maxImages bounds the notice images kept on the GPU. They are kept at
// the size they are shown at, so at most a card's area each.
const maxImages = 8

// bigMedia is the decoded size, in bytes, above which the memory of a
// decoded picture is handed back to the system at once after scaling: a
// 4000x3000 photo is 18 to 48 MiB decoded, which the Go runtime would
// otherwise hand back only gradually.
const bigMedia = 8 << 20

// mediaImage returns the notice image for sha fitted in w x h pixels (its
// aspect kept), nil for a placeholder. The decoded original is dropped
// once scaled: only the shown size stays, on the GPU.
func (r *Renderer) mediaImage(sha string, w, h float64) *ebiten.Image {
	if r.Media == nil || w < 1 || h < 1 {
		return nil
	}
	k := mediaKey{sha, w, h}
	if img, ok := r.images[k]; ok {
		return img
	}
	src, err := r.Media(sha)
	if err != nil {
		return nil
	}
	fitted := fit(src, w, h)
	if b := src.Bounds(); b.Dx()*b.Dy()*4 > bigMedia {
		debug.FreeOSMemory()
	}
	if r.images == nil || len(r.images) >= maxImages {
		for _, img := range r.images {
			img.Deallocate()
		}
		r.images = make(map[mediaKey]*ebiten.Image)
	}
	img := ebiten.NewImageFromImage(fitted)
	r.images[k] = img
	return img
}

// fit scales src to fit w x h, keeping its aspect.
func fit(src image.Image, w, h float64) image.Image {
	b := src.Bounds()
	sw, sh := float64(b.Dx()), float64(b.Dy())
	scale := math.Min(w/sw, h/sh)
	dw, dh := max(1, int(math.Round(sw*scale))), max(1, int(math.Round(sh*scale)))
	if dw == b.Dx() && dh == b.Dy() {
		return src
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	// Catmull-Rom, whose kernel widens with the reduction: no aliasing on
	// a photo reduced tenfold.
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	return dst
}
