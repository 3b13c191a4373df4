// Package goldens holds the cabin screen's golden cases and the one
// comparison both of their tests use: ui/screen draws each case natively
// and compares it with its image in ui/screen/testdata; the notice
// preview (e2e/browser) draws the cases a preview can produce in a
// browser, through WebAssembly, and compares them with the same images
// under the same tolerance (Diff, Tolerance).
//
// It holds data and arithmetic only: no ebiten, so a test that does not
// draw natively may import it.
package goldens
