// Command natsusers generates the per-device NATS users of the leaf node
// from the fleet file, until cmd/receiver carries it as "receiver users":
//
//	go run ./packaging/nats/natsusers render --fleet fleet.yaml --out accounts.conf
//	echo 'a long password' | go run ./packaging/nats/natsusers hash
package main

import (
	"os"

	"github.com/palier-lifts/palier/natsauth"
)

func main() {
	os.Exit(natsauth.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
