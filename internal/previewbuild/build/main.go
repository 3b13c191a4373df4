// Command build writes the notice preview's files into a folder for the
// receiver to serve (http.preview_dir): go run ./internal/previewbuild/build DIR.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/palier-lifts/palier/internal/previewbuild"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/previewbuild/build DIR")
		os.Exit(2)
	}
	if err := previewbuild.Build(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
