package devcred_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/internal/connstorm"
	"github.com/palier-lifts/palier/natsauth"
)

// BenchmarkConnectJWT measures what a reconnect storm costs the server in
// credential checks, the way natsauth's BenchmarkConnectAuth does for
// bcrypt passwords: each iteration is one connection of one of 256 cabins'
// bearer credentials, from 8 clients at once, against a real nats-server
// in operator mode. A check is a JWT decode, one ed25519 verification, the
// account's (cached) and a revocation lookup.
//
//	go test -run '^$' -bench ConnectJWT -benchtime 2000x ./devcred
func BenchmarkConnectJWT(b *testing.B) {
	a, err := devcred.NewAuthority("")
	if err != nil {
		b.Fatal(err)
	}
	acc, err := a.AccountJWT(map[string]time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	var conf bytes.Buffer
	if err := a.RenderTrust(&conf, acc); err != nil {
		b.Fatal(err)
	}
	conf.WriteString("listen: 127.0.0.1:-1\nresolver: MEMORY\n")
	path := filepath.Join(b.TempDir(), "server.conf")
	if err := os.WriteFile(path, conf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	opts, err := natsserver.ProcessConfigFile(path)
	if err != nil {
		b.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		b.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats-server not ready")
	}
	defer srv.Shutdown()

	const users = 256
	creds := make([]string, users)
	for i := range creds {
		// The cabins' own credentials, but allowed over NATS: the check is
		// the same, and MQTT's own session setup is not what is measured.
		c, err := a.IssueService(fmt.Sprintf("s1-c%d", i), []string{"STANDARD"}, time.Now(), time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		creds[i] = c.JWT
	}
	noSig := func([]byte) ([]byte, error) { return nil, nil } // bearer: nothing to sign
	url := srv.ClientURL()

	connstorm.Measure(b, func(i int) error {
		tok := creds[i%users]
		nc, err := nats.Connect(url, nats.UserJWT(func() (string, error) { return tok, nil }, noSig), nats.Timeout(time.Minute))
		if err != nil {
			return err
		}
		nc.Close()
		return nil
	})
}

// BenchmarkCheck is the CPU of one credential check alone, beside the
// bcrypt check of a device password at natsauth.DeviceCost: what a server
// core spends per CONNECT on authentication, without the network.
//
//	go test -run '^$' -bench Check ./devcred
func BenchmarkCheck(b *testing.B) {
	b.Run("jwt-ed25519", func(b *testing.B) {
		a, _ := devcred.NewAuthority("")
		c, err := a.IssueDevice(natsauth.Device{Site: "s", Cabin: "c"}, time.Now(), time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := jwt.DecodeUserClaims(c.JWT); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("bcrypt-cost-%d", natsauth.DeviceCost), func(b *testing.B) {
		const pw = "a-device-password-of-32-chars-xx"
		h, err := natsauth.HashDevice([]byte(pw))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(pw)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
