//go:build js && wasm

// Command preview is the cabin screen's own drawing (packages ui and
// ui/screen) compiled to WebAssembly, for the building manager's browser:
// the receiver serves it (GET /preview/screen.wasm) and links nothing of
// ebiten itself. Built with GOOS=js GOARCH=wasm (internal/previewbuild).
//
// It registers globalThis.palierPreview(request) -> Promise<string>: the
// request is ui/preview's JSON (a string, or an object it encodes), the
// promise resolves to a PNG data URL of exactly the screen's pixels at the
// layout's logical size (screen.Renderer.Snapshot) and rejects with an
// Error whose message names the bad field (its field property too). The
// picture of the notice shown is fetched from the receiver
// (/media/{sha256}, same origin), checked and decoded as the screen does
// (ui.VerifyMedia); a missing or bad picture draws as the screen draws one
// not in its cache. Pages load it through
// receiver/httpapi/static/preview-1/preview.js.
//
// ebiten draws with WebGL: without it the game loop does not start and
// every promise rejects, saying so.
package main
