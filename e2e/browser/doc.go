// Package browser holds the end-to-end tests that run in headless
// Chromium (internal/browsertest) against the real receiver HTTP API: the
// notice preview drawn by the screen's own code compiled to WebAssembly,
// compared with the screen's golden images (preview_test.go), and the
// managers' pages. It has no code of its own; each file's helpers carry
// its prefix.
package browser
