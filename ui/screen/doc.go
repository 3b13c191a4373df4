// Package screen draws a ui.View with ebiten: the cabin screen's pixels.
//
// A Renderer paints one View onto an image at the View's logical size; text
// uses the embedded Go fonts (which cover French and Italian accents) through
// ebiten's text/v2, long text is wrapped and ellipsized, and a glyph the font
// lacks draws as the font's empty box rather than failing. A Game runs the
// Renderer in ebiten's loop and redraws only when the View changes (the
// screen is not cleared every frame), so a still cabin costs almost no CPU.
//
// Only this package and cmd/display import ebiten. ebiten panics at start-up
// without a display server; callers check for one first (see cmd/display).
package screen
