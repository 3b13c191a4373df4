package natsauth_test

import (
	"fmt"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/palier-lifts/palier/internal/connstorm"
)

// BenchmarkConnectAuth measures what a reconnect storm costs the server in
// password checks: nats-server checks a user's bcrypt hash at every
// CONNECT (it caches nothing), MQTT's as NATS's. Each iteration is one
// connection of one of 256 users, from 8 clients at once, against a real
// nats-server; connects/s is what a leaf node can admit when the whole
// fleet comes back at once.
//
//	go test -run '^$' -bench ConnectAuth -benchtime 200x ./natsauth
func BenchmarkConnectAuth(b *testing.B) {
	for _, cost := range []int{bcrypt.MinCost, 6, 8, 11} {
		b.Run(fmt.Sprintf("bcrypt-cost-%d", cost), func(b *testing.B) {
			const users, password = 256, "a-device-password-of-32-chars-xx"
			hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
			if err != nil {
				b.Fatal(err)
			}
			opts := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true}
			for i := range users {
				opts.Users = append(opts.Users, &natsserver.User{Username: fmt.Sprintf("s1-c%d", i), Password: string(hash)})
			}
			srv, err := natsserver.NewServer(opts)
			if err != nil {
				b.Fatal(err)
			}
			go srv.Start()
			if !srv.ReadyForConnections(10 * time.Second) {
				b.Fatal("nats-server not ready")
			}
			defer srv.Shutdown()
			url := srv.ClientURL()

			connstorm.Measure(b, func(i int) error {
				nc, err := nats.Connect(url, nats.UserInfo(fmt.Sprintf("s1-c%d", i%users), password), nats.Timeout(time.Minute))
				if err != nil {
					return err
				}
				nc.Close()
				return nil
			})
		})
	}
}
