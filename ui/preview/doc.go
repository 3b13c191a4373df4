// Package preview turns a notice preview request (JSON from the building
// manager's page) into what the cabin screen's model draws: a ui.Config
// and a ui.Input. The screen's own drawing (ui/screen) then paints it in
// the manager's browser, compiled to WebAssembly by cmd/preview; this
// package draws nothing and imports no ebiten, so it is tested on the host.
//
// A request is outside input: it is bounded in size, unknown fields are
// refused, and every error names the field (a *wire.FieldError) and says
// what would be valid. The cabin of a preview stands still at a floor (or
// moves, if the request says so), the agent is up, and the rotation holds
// only the requested language.
package preview
