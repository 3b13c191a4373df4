// Package previewbuild builds the notice preview's files for the receiver
// to serve: cmd/preview compiled to WebAssembly (screen.wasm), its gzip
// (screen.wasm.gz, served to browsers that accept it) and the Go
// toolchain's wasm_exec.js that runs it. The browser tests call Build;
// scripts/package.sh and scripts/demo.sh run it as
// `go run ./internal/previewbuild/build DIR`.
package previewbuild
