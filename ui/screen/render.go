package screen

import (
	"image"
	"image/color"
	"math"
	"strconv"
	"strings"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/text/v2"
	"github.com/hajimehoshi/ebiten/v2/vector"

	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/wire"
)

// Palette. Chosen for contrast at a glance: white on deep navy, amber arrow.
var (
	colBg      = color.RGBA{0x0b, 0x13, 0x20, 0xff}
	colCard    = color.RGBA{0x16, 0x21, 0x3a, 0xff}
	colText    = color.RGBA{0xf5, 0xf7, 0xfa, 0xff}
	colMuted   = color.RGBA{0x9a, 0xa5, 0xb1, 0xff}
	colStale   = color.RGBA{0x5c, 0x67, 0x73, 0xff}
	colArrow   = color.RGBA{0xff, 0xc8, 0x57, 0xff}
	colUrgent  = color.RGBA{0xc6, 0x28, 0x28, 0xff}
	colTag     = color.RGBA{0x2e, 0x5c, 0x8a, 0xff}
	colOK      = color.RGBA{0x4c, 0xaf, 0x50, 0xff}
	colDown    = color.RGBA{0x61, 0x61, 0x61, 0xff}
	colNightBg = color.RGBA{0, 0, 0, 0x90} // laid over everything at night
)

// overlayColors: background and text per situation. The alarm overlay is a
// calm blue: it reassures, the alarm device itself does the alerting.
var overlayColors = map[ui.OverlayKind][2]color.RGBA{
	ui.OverlayConnecting:   {colCard, colText},
	ui.OverlayAlarm:        {{0x0d, 0x47, 0xa1, 0xff}, colText},
	ui.OverlayFire:         {{0xb7, 0x1c, 0x1c, 0xff}, colText},
	ui.OverlayOutOfService: {{0x37, 0x47, 0x4f, 0xff}, colText},
	ui.OverlayInspection:   {{0xe6, 0x51, 0x00, 0xff}, colText},
	ui.OverlayOverload:     {{0xf9, 0xa8, 0x25, 0xff}, {0x10, 0x10, 0x10, 0xff}},
}

// Renderer paints Views. It holds the fonts; use it from ebiten's goroutine.
type Renderer struct {
	// Media, if set, returns a notice's image by SHA-256 (ui.MediaDir.Load);
	// an error draws a placeholder. Set before the first Draw.
	Media func(sha string) (image.Image, error)

	f      fonts
	white  *ebiten.Image // 1x1 source for vector fills
	images map[mediaKey]*ebiten.Image
	arrows map[arrowKey]sprite
}

// NewRenderer loads the embedded fonts. It needs ebiten running only when
// drawing, not to be created.
func NewRenderer() (*Renderer, error) {
	f, err := loadFonts()
	if err != nil {
		return nil, err
	}
	w := ebiten.NewImage(3, 3)
	w.Fill(color.White)
	return &Renderer{f: f, white: w.SubImage(image.Rect(1, 1, 2, 2)).(*ebiten.Image)}, nil
}

// painter draws with the burn-in shift applied to every coordinate.
type painter struct {
	r      *Renderer
	dst    *ebiten.Image
	ox, oy float64
	u      float64 // one logical unit of the 480-high reference layout
}

func (p *painter) rect(x, y, w, h float64, c color.Color) {
	vector.DrawFilledRect(p.dst, float32(x+p.ox), float32(y+p.oy), float32(w), float32(h), c, false)
}

func (p *painter) circle(x, y, r float64, c color.Color) {
	vector.DrawFilledCircle(p.dst, float32(x+p.ox), float32(y+p.oy), float32(r), c, true)
}

// text draws one line; align is the horizontal alignment at x, y is the top.
func (p *painter) text(s string, face *text.GoTextFace, x, y float64, c color.Color, align text.Align) {
	op := &text.DrawOptions{}
	op.GeoM.Translate(x+p.ox, y+p.oy)
	op.ColorScale.ScaleWithColor(c)
	op.PrimaryAlign = align
	text.Draw(p.dst, s, face, op)
}

// fitSize returns the largest size up to max at which s fits width.
func (p *painter) fitSize(s string, bold bool, max, width float64) float64 {
	adv := text.Advance(s, p.r.f.face(bold, max))
	if adv <= width || adv == 0 {
		return max
	}
	return math.Floor(max * width / adv)
}

type rect struct{ x, y, w, h float64 }

// frame is where each part of a View goes, in unshifted logical pixels.
type frame struct {
	u             float64
	top, body     rect
	banner        rect // zero when no banner
	floor, notice rect
}

func layout(v ui.View) frame {
	u := float64(min(v.Width, v.Height)) / 480
	W, H := float64(v.Width), float64(v.Height)
	pad := 16 * u
	f := frame{u: u}
	// Top bar: building left, date and clock right.
	f.top = rect{pad, pad * 0.75, W - 2*pad, 56 * u}
	if v.Portrait {
		f.top.h = 100 * u // building on its own row
	}
	f.body = rect{pad, f.top.y + f.top.h + pad*0.5, W - 2*pad, H - (f.top.y + f.top.h + pad*0.5) - pad}
	if v.Banner != "" && v.Overlay.Kind == ui.OverlayNone {
		bh := 58 * u
		f.banner = rect{0, H - bh, W, bh}
		f.body.h -= bh
	}
	b := f.body
	if v.Portrait {
		fh := b.h * 0.42
		f.floor = rect{b.x, b.y, b.w, fh}
		f.notice = rect{b.x, b.y + fh + pad, b.w, b.h - fh - pad}
	} else {
		fw := b.w * 0.40
		f.floor = rect{b.x, b.y, fw, b.h}
		f.notice = rect{b.x + fw + pad, b.y, b.w - fw - pad, b.h}
	}
	return f
}

// Draw paints v onto dst, which should be v.Width x v.Height.
func (r *Renderer) Draw(dst *ebiten.Image, v ui.View) {
	dst.Fill(colBg)
	f := layout(v)
	p := &painter{r: r, dst: dst, ox: float64(v.ShiftX) * f.u, oy: float64(v.ShiftY) * f.u, u: f.u}
	r.drawTopBar(p, v, f.top)
	if f.banner.h > 0 {
		r.drawBanner(p, v.Banner, f.banner)
	}
	if v.Overlay.Kind != ui.OverlayNone {
		r.drawOverlay(p, v, f.body)
	} else {
		r.drawFloor(p, v, f.floor)
		r.drawNotice(p, v, f.notice)
	}
	if v.Conn.Show {
		r.drawConnectivity(p, v, float64(v.Width), float64(v.Height))
	}
	if v.Dim {
		vector.DrawFilledRect(dst, 0, 0, float32(v.Width), float32(v.Height), colNightBg, false)
	}
}

// OnlyArrowMoved reports whether next differs from prev only by the arrow's
// animation frame, so that DrawArrow can update a screen showing prev.
func OnlyArrowMoved(prev, next ui.View) bool {
	if next.Overlay.Kind != ui.OverlayNone || !next.Moving {
		return false
	}
	prev.ArrowFrame = next.ArrowFrame
	return prev == next
}

// ChangedRegions returns the parts of the screen that must be repainted to
// go from prev to next, and false when everything must: a new size,
// orientation, burn-in shift, palette, overlay, or a banner coming or
// going (which moves the panels). Each region covers a whole panel (top
// bar, floor panel, notice card, banner); Draw onto the screen's SubImage
// of a region paints there exactly what a full paint would.
func ChangedRegions(prev, next ui.View) ([]image.Rectangle, bool) {
	if prev.Width != next.Width || prev.Height != next.Height || prev.Portrait != next.Portrait ||
		prev.ShiftX != next.ShiftX || prev.ShiftY != next.ShiftY || prev.Dim != next.Dim ||
		prev.Overlay.Kind != ui.OverlayNone || next.Overlay.Kind != ui.OverlayNone ||
		prev.HasState != next.HasState || (prev.Banner == "") != (next.Banner == "") {
		return nil, false
	}
	f := layout(next)
	ox, oy := float64(next.ShiftX)*f.u, float64(next.ShiftY)*f.u
	// Whole pixels around a panel, with room for anti-aliased edges.
	around := func(r rect) image.Rectangle {
		return image.Rect(int(math.Floor(r.x+ox))-2, int(math.Floor(r.y+oy))-2, int(math.Ceil(r.x+ox+r.w))+2, int(math.Ceil(r.y+oy+r.h))+2)
	}
	var regions []image.Rectangle
	add := func(r image.Rectangle) {
		regions = append(regions, r.Intersect(image.Rect(0, 0, next.Width, next.Height)))
	}
	if prev.Building != next.Building || prev.Date != next.Date || prev.Clock != next.Clock || prev.Conn != next.Conn {
		// The band above the panels: top bar, its rule, the connectivity dots.
		add(image.Rect(0, 0, next.Width, int(math.Ceil(f.body.y+oy))))
	}
	if prev.Floor != next.Floor || prev.Direction != next.Direction || prev.Moving != next.Moving ||
		prev.ArrowFrame != next.ArrowFrame || prev.Stale != next.Stale {
		add(around(f.floor))
	}
	if prev.Notice != next.Notice || prev.NoticeIndex != next.NoticeIndex || prev.NoticeCount != next.NoticeCount ||
		prev.Lang != next.Lang || prev.Building != next.Building {
		// The card shows the building's name when there is no notice.
		add(around(f.notice))
	}
	if prev.Banner != next.Banner {
		add(image.Rect(0, int(math.Floor(f.banner.y-math.Abs(oy)))-2, next.Width, next.Height))
	}
	return regions, true
}

// DrawArrow repaints only the arrow of v onto dst, which must show a View
// that differs from v only by its arrow frame (see OnlyArrowMoved). While
// the car moves this is all that changes, many times a second; repainting a
// small box instead of the screen keeps software GL cheap.
//
// It returns the region it repainted.
func (r *Renderer) DrawArrow(dst *ebiten.Image, v ui.View) image.Rectangle {
	f := layout(v)
	p := &painter{r: r, dst: dst, ox: float64(v.ShiftX) * f.u, oy: float64(v.ShiftY) * f.u, u: f.u}
	c := colText
	if v.Stale {
		c = colStale
	}
	box, clear := arrowBoxes(v, f.floor)
	p.rect(clear.x, clear.y, clear.w, clear.h, colCard)
	r.drawArrow(p, v, box, c)
	if v.Dim {
		p.rect(clear.x, clear.y, clear.w, clear.h, colNightBg)
	}
	x0, y0 := clear.x+p.ox, clear.y+p.oy
	return image.Rect(int(math.Floor(x0))-1, int(math.Floor(y0))-1, int(math.Ceil(x0+clear.w))+1, int(math.Ceil(y0+clear.h))+1).Intersect(dst.Bounds())
}

// arrowBoxes returns the arrow's box in the floor panel and the region its
// animation can reach (which DrawArrow clears).
func arrowBoxes(v ui.View, b rect) (box, reach rect) {
	if v.Portrait {
		aw := math.Min(b.w*0.3, b.h*0.8)
		box = rect{b.x + b.w*0.06, b.y + (b.h-aw)/2, aw, aw}
	} else {
		ah := b.h * 0.30
		box = rect{b.x + (b.w-ah)/2, b.y + b.h*0.06, ah, ah}
	}
	// The arrow glides by up to 15% of the box height either way.
	reach = rect{box.x, box.y - box.h*0.16, box.w, box.h * 1.32}
	reach.y = math.Max(reach.y, b.y)
	reach.h = math.Min(reach.y+reach.h, b.y+b.h) - reach.y
	return box, reach
}

func (r *Renderer) drawTopBar(p *painter, v ui.View, b rect) {
	clock := r.f.face(true, 44*p.u)
	date := r.f.face(false, 22*p.u)
	name := r.f.face(true, 30*p.u)
	cw := text.Advance(v.Clock, clock)
	if v.Portrait {
		p.text(ellipsize(v.Building, name, b.w), name, b.x, b.y+4*p.u, colText, text.AlignStart)
		row := b.y + 48*p.u
		p.text(v.Clock, clock, b.x+b.w, row, colText, text.AlignEnd)
		p.text(ellipsize(v.Date, date, b.w-cw-16*p.u), date, b.x, row+16*p.u, colMuted, text.AlignStart)
	} else {
		p.text(v.Clock, clock, b.x+b.w, b.y, colText, text.AlignEnd)
		p.text(ellipsize(v.Date, date, b.w*0.55-cw), date, b.x+b.w-cw-16*p.u, b.y+16*p.u, colMuted, text.AlignEnd)
		p.text(ellipsize(v.Building, name, b.w*0.45), name, b.x, b.y+8*p.u, colText, text.AlignStart)
	}
	p.rect(b.x, b.y+b.h+2*p.u, b.w, math.Max(1, 2*p.u), colCard)
}

func (r *Renderer) drawFloor(p *painter, v ui.View, b rect) {
	p.rect(b.x, b.y, b.w, b.h, colCard)
	c := colText
	if v.Stale {
		c = colStale
	}
	label := v.Floor
	if label == "" {
		label = "–"
	}
	// Arrow beside the number in portrait, above it in landscape.
	arrowBox, _ := arrowBoxes(v, b)
	var numBox rect
	if v.Portrait {
		numBox = rect{arrowBox.x + arrowBox.w, b.y, b.w - arrowBox.w - b.w*0.06, b.h}
	} else {
		numBox = rect{b.x, arrowBox.y + arrowBox.h, b.w, b.h - arrowBox.h - b.h*0.06}
	}
	size := p.fitSize(label, true, numBox.h*0.95, numBox.w*0.9)
	face := r.f.face(true, size)
	m := face.Metrics()
	// Centre the cap height, not the line box, so digits sit in the middle.
	capTop := m.HAscent - size*0.72
	y := numBox.y + (numBox.h-size*0.72)/2 - capTop
	p.text(label, face, numBox.x+numBox.w/2, y, c, text.AlignCenter)
	if v.Direction == wire.DirectionUp || v.Direction == wire.DirectionDown {
		r.drawArrow(p, v, arrowBox, c)
	}
}

// drawArrow draws a chevron arrow; while moving, the arrow glides in the
// travel direction and fades in and out over ui.ArrowPeriod.
//
// The arrow is drawn from a sprite rendered once per box and colour:
// anti-aliased paths go through an offscreen image twice the size of their
// bounds, which ebiten makes anew whenever the bounds move, so drawing the
// gliding path itself cost a new texture every frame. The glide is rounded
// to whole pixels, which keeps the sprite's edges exact.
func (r *Renderer) drawArrow(p *painter, v ui.View, b rect, c color.RGBA) {
	if !v.Stale {
		c = colArrow
	}
	phase := float64(v.ArrowFrame) / ui.ArrowFrames
	up := v.Direction == wire.DirectionUp
	dy := 0.0
	alpha := 1.0
	if v.Moving {
		dy = (phase - 0.5) * b.h * 0.3
		if up {
			dy = -dy
		}
		alpha = 1 - 0.4*math.Abs(phase-0.5)*2
	}
	s := r.arrowSprite(arrowKey{box: rect{b.x + p.ox, b.y + p.oy, b.w, b.h}, up: up, c: c})
	op := &ebiten.DrawImageOptions{}
	op.GeoM.Translate(float64(s.at.X), float64(s.at.Y)+math.Round(dy))
	op.ColorScale.ScaleAlpha(float32(alpha))
	p.dst.DrawImage(s.img, op)
}

// arrowKey is what an arrow sprite depends on: its box in screen pixels
// (burn-in shift included, fractions kept), its direction and colour.
type arrowKey struct {
	box rect
	up  bool
	c   color.RGBA
}

type sprite struct {
	img *ebiten.Image
	at  image.Point // where its top-left corner goes when the arrow is at rest
}

// maxSprites bounds the arrow sprites kept: two directions in two colours
// for the current layout and shift.
const maxSprites = 4

func (r *Renderer) arrowSprite(k arrowKey) sprite {
	if s, ok := r.arrows[k]; ok {
		return s
	}
	if r.arrows == nil || len(r.arrows) >= maxSprites {
		for _, s := range r.arrows {
			s.img.Deallocate()
		}
		r.arrows = make(map[arrowKey]sprite)
	}
	b := k.box
	cx := b.x + b.w/2
	top := b.y + b.h*0.1
	bot := b.y + b.h*0.9
	hw := b.w * 0.42
	stem := b.w * 0.16
	head := b.h * 0.45
	at := image.Pt(int(math.Floor(cx-hw))-1, int(math.Floor(top))-1)
	size := image.Pt(int(math.Ceil(cx+hw))+1-at.X, int(math.Ceil(bot))+1-at.Y)
	// Path in sprite coordinates: the fractions of the box are kept, so the
	// sprite drawn at a whole-pixel offset is the arrow drawn in place.
	x0, y0 := float32(cx-float64(at.X)), float32(top-float64(at.Y))
	y1 := float32(bot - float64(at.Y))
	w2, st, hd := float32(hw), float32(stem), float32(head)
	var path vector.Path
	if k.up {
		path.MoveTo(x0, y0)
		path.LineTo(x0+w2, y0+hd)
		path.LineTo(x0+st, y0+hd)
		path.LineTo(x0+st, y1)
		path.LineTo(x0-st, y1)
		path.LineTo(x0-st, y0+hd)
		path.LineTo(x0-w2, y0+hd)
	} else {
		path.MoveTo(x0, y1)
		path.LineTo(x0+w2, y1-hd)
		path.LineTo(x0+st, y1-hd)
		path.LineTo(x0+st, y0)
		path.LineTo(x0-st, y0)
		path.LineTo(x0-st, y1-hd)
		path.LineTo(x0-w2, y1-hd)
	}
	path.Close()
	vs, is := path.AppendVerticesAndIndicesForFilling(nil, nil)
	cr, cg, cb := float32(k.c.R)/255, float32(k.c.G)/255, float32(k.c.B)/255
	for i := range vs {
		vs[i].SrcX, vs[i].SrcY = 1, 1
		vs[i].ColorR, vs[i].ColorG, vs[i].ColorB, vs[i].ColorA = cr, cg, cb, 1
	}
	// Anti-aliasing gives the image it draws on a double-size offscreen
	// buffer for good; draw on a scratch image and keep a plain copy.
	scratch := ebiten.NewImage(size.X, size.Y)
	defer scratch.Deallocate()
	scratch.DrawTriangles(vs, is, r.white, &ebiten.DrawTrianglesOptions{AntiAlias: true, FillRule: ebiten.FillRuleNonZero})
	img := ebiten.NewImage(size.X, size.Y)
	img.DrawImage(scratch, &ebiten.DrawImageOptions{Blend: ebiten.BlendCopy})
	s := sprite{img: img, at: at}
	r.arrows[k] = s
	return s
}

func (r *Renderer) drawNotice(p *painter, v ui.View, b rect) {
	pad := 18 * p.u
	n := v.Notice
	if v.NoticeCount == 0 {
		// No notice: a calm card rather than an empty hole.
		f := r.f.face(false, 24*p.u)
		p.text(ellipsize(v.Building, f, b.w-2*pad), f, b.x+b.w/2, b.y+b.h/2-12*p.u, colStale, text.AlignCenter)
		return
	}
	p.rect(b.x, b.y, b.w, b.h, colCard)
	x, y, w := b.x+pad, b.y+pad, b.w-2*pad

	// Category tag and position in the rotation.
	tagFace := r.f.face(true, 18*p.u)
	tag := strings.ToUpper(n.Category)
	tw := text.Advance(tag, tagFace) + 16*p.u
	tagCol := colTag
	if n.Urgent {
		tagCol = colUrgent
	}
	p.rect(x, y, tw, 28*p.u, tagCol)
	p.text(tag, tagFace, x+8*p.u, y+3*p.u, colText, text.AlignStart)
	small := r.f.face(false, 18*p.u)
	pos := strings.ToUpper(v.Lang)
	if v.NoticeCount > 1 {
		pos = strconv.Itoa(v.NoticeIndex) + "/" + strconv.Itoa(v.NoticeCount) + "  " + pos
	}
	p.text(pos, small, x+w, y+4*p.u, colMuted, text.AlignEnd)
	y += 28*p.u + 14*p.u

	titleFace := r.f.face(true, 32*p.u)
	titleLH := 38 * p.u
	for _, l := range wrap(n.Title, titleFace, w, 2) {
		p.text(l, titleFace, x, y, colText, text.AlignStart)
		y += titleLH
	}
	y += 8 * p.u

	bodyFace := r.f.face(false, 24*p.u)
	lh := 31 * p.u
	bottom := b.y + b.h - pad
	if n.Media != "" {
		// The picture sits under the text; the text keeps at least two lines.
		ph := math.Min(b.h*0.42, bottom-y-2*lh)
		if ph > 40*p.u {
			bottom -= ph + 8*p.u
			r.drawMedia(p, n.Media, rect{x, bottom + 8*p.u, w, ph})
		}
	}
	maxLines := int((bottom - y) / lh)
	for _, l := range wrap(n.Body, bodyFace, w, maxLines) {
		p.text(l, bodyFace, x, y, colText, text.AlignStart)
		y += lh
	}
}

// drawMedia draws a notice's image fitted in box, or a placeholder when the
// image is missing or broken.
func (r *Renderer) drawMedia(p *painter, sha string, box rect) {
	img := r.mediaImage(sha, box.w, box.h)
	if img == nil {
		// Placeholder: a frame with a sun and a hill, the usual "picture".
		pw := math.Min(box.w, box.h*1.5)
		x := box.x
		p.rect(x, box.y, pw, box.h, colStale)
		p.rect(x+3*p.u, box.y+3*p.u, pw-6*p.u, box.h-6*p.u, colCard)
		p.circle(x+pw*0.7, box.y+box.h*0.32, box.h*0.1, colStale)
		var path vector.Path
		path.MoveTo(float32(x+pw*0.15+p.ox), float32(box.y+box.h*0.82+p.oy))
		path.LineTo(float32(x+pw*0.42+p.ox), float32(box.y+box.h*0.4+p.oy))
		path.LineTo(float32(x+pw*0.85+p.ox), float32(box.y+box.h*0.82+p.oy))
		path.Close()
		vs, is := path.AppendVerticesAndIndicesForFilling(nil, nil)
		for i := range vs {
			vs[i].SrcX, vs[i].SrcY = 1, 1
			vs[i].ColorR, vs[i].ColorG, vs[i].ColorB, vs[i].ColorA = float32(colStale.R)/255, float32(colStale.G)/255, float32(colStale.B)/255, 1
		}
		p.dst.DrawTriangles(vs, is, r.white, &ebiten.DrawTrianglesOptions{AntiAlias: true})
		return
	}
	// The image is the size it is shown at (see mediaImage): no scaling.
	op := &ebiten.DrawImageOptions{}
	op.GeoM.Translate(math.Round(box.x+p.ox), math.Round(box.y+p.oy))
	p.dst.DrawImage(img, op)
}

func (r *Renderer) drawBanner(p *painter, title string, b rect) {
	p.rect(b.x-p.ox, b.y-p.oy, b.w+2*math.Abs(p.ox)+2, b.h+2*math.Abs(p.oy)+2, colUrgent)
	f := r.f.face(true, 30*p.u)
	pad := 20 * p.u
	// A drawn mark: the Go fonts have no warning sign.
	cr := 15 * p.u
	cx, cy := b.x+pad+cr, b.y+b.h/2
	p.circle(cx, cy, cr, colText)
	p.text("!", r.f.face(true, 24*p.u), cx, cy-14*p.u, colUrgent, text.AlignCenter)
	x := cx + cr + 12*p.u
	p.text(ellipsize(title, f, b.x+b.w-pad-x), f, x, b.y+(b.h-36*p.u)/2, colText, text.AlignStart)
}

func (r *Renderer) drawOverlay(p *painter, v ui.View, b rect) {
	cols, ok := overlayColors[v.Overlay.Kind]
	if !ok {
		cols = [2]color.RGBA{colCard, colText}
	}
	p.rect(b.x, b.y, b.w, b.h, cols[0])
	pad := 24 * p.u
	var lines []string
	for _, l := range v.Overlay.Lines {
		if l != "" {
			lines = append(lines, l)
		}
	}
	// The floor stays visible in a corner: passengers still want to know
	// where they are.
	floorH := 0.0
	if v.HasState && v.Overlay.Kind != ui.OverlayConnecting {
		ff := r.f.face(true, 40*p.u)
		p.text(v.Floor, ff, b.x+b.w-pad, b.y+pad*0.5, cols[1], text.AlignEnd)
		floorH = 40 * p.u
	}
	first := r.f.face(true, 40*p.u)
	rest := r.f.face(false, 30*p.u)
	w := b.w - 2*pad
	var rows []struct {
		s    string
		face *text.GoTextFace
		lh   float64
	}
	for i, l := range lines {
		face, lh, max := rest, 38*p.u, 2
		if i == 0 {
			face, lh, max = first, 50*p.u, 2
		}
		for _, s := range wrap(l, face, w, max) {
			rows = append(rows, struct {
				s    string
				face *text.GoTextFace
				lh   float64
			}{s, face, lh})
		}
	}
	total := 0.0
	for i, row := range rows {
		total += row.lh
		if i > 0 && row.face == rest && rows[i-1].face == first {
			total += 12 * p.u
		}
	}
	y := b.y + floorH + (b.h-floorH-total)/2
	for i, row := range rows {
		if i > 0 && row.face == rest && rows[i-1].face == first {
			y += 12 * p.u
		}
		p.text(row.s, row.face, b.x+b.w/2, y, cols[1], text.AlignCenter)
		y += row.lh
	}
}

// drawConnectivity draws three discreet dots in the top-left corner, for
// installers: agent, controller, uplink; green when up.
func (r *Renderer) drawConnectivity(p *painter, v ui.View, W, H float64) {
	rad := 3 * p.u
	x := 6 * p.u
	y := 6 * p.u
	for _, up := range []bool{v.Conn.Agent, v.Conn.Controller, v.Conn.Uplink} {
		c := colDown
		if up {
			c = colOK
		}
		p.circle(x, y, rad, c)
		x += 3 * rad
	}
}
