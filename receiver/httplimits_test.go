package receiver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowClientsCannotHoldTheAPI is the load test of the HTTP server's
// limits (issue 20, finding 5: 3,000 connections sending a body a byte at a
// time were all still open after 120 s, and 21,000 took the API and the
// MQTT listener down). 120 clients, each sending a 100 kB body one byte
// every 100 ms, against a receiver serving at most 32 connections with a
// 500 ms request budget: the server never holds more than 32, closes every
// slow client, and still answers. Every client gives up by itself after
// 15 s, so the test stops whatever the server does.
func TestSlowClientsCannotHoldTheAPI(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.MaxConnections = 32
	cfg.HTTP.RequestTimeout = 500 * time.Millisecond
	cfg.HTTP.IdleTimeout = time.Second
	r := start(t, cfg)
	addr := r.HTTPAddr()

	const clients = 120
	var closed atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /api/v1/sites/s1/notices HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", addr)
			gone := make(chan struct{})
			go func() { // the server answers or closes: either way it let go
				io.Copy(io.Discard, c)
				close(gone)
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			giveUp := time.After(15 * time.Second)
			for {
				select {
				case <-gone:
					closed.Add(1)
					return
				case <-giveUp:
					return
				case <-tick.C:
					c.Write([]byte{'{'}) // an error here means closed; the reader sees it too
				}
			}
		})
	}
	peak := 0.0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(20 * time.Millisecond):
			peak = max(peak, counter(t, r, "palier_receiver_http_connections"))
		}
	}
	if peak > float64(cfg.HTTP.MaxConnections) {
		t.Errorf("the server held %v connections at once, more than max_connections %d", peak, cfg.HTTP.MaxConnections)
	}
	if n := closed.Load(); n != clients {
		t.Fatalf("%d of %d slow clients were let go by the server; the rest held their connection for 15 s", n, clients)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after the flood: %d", resp.StatusCode)
	}
	t.Logf("%d slow clients let go, at most %v connections held at once", closed.Load(), peak)
}
