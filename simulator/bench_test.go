package simulator_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/simulator"
)

// BenchmarkPollSimProfile polls the simulator's profile over a pty with the
// simulator pacing its replies at wire speed, and reports the achieved
// polls/s and their ratio to the wire-time limit of the same requests:
// per request, (request + response bytes) × 11 bits / baud plus two
// silent intervals (before the request and before the response).
func BenchmarkPollSimProfile(b *testing.B) {
	p, err := sensors.LoadProfile("../sensors/profiles/palier-sim.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, baud := range []int{9600, 19200, 115200} {
		b.Run(fmt.Sprintf("baud=%d", baud), func(b *testing.B) {
			sim, err := simulator.New(simulator.Config{Baud: baud, Scenario: &simulator.Scenario{Name: "idle"}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			m := startSim(b, sim, baud, modbus.Config{ResponseTimeout: 2 * time.Second})
			r := sensors.NewProfileReader(p, m)
			var limit time.Duration
			for _, req := range p.Requests() {
				limit += modbus.WireTime(modbus.RequestLen+req.ResponseLen(), baud) + 2*modbus.SilentInterval(baud)
			}
			ctx := context.Background()
			if _, err := r.Read(ctx); err != nil { // warm up
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := r.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			polls := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(polls, "polls/s")
			b.ReportMetric(polls*limit.Seconds(), "of-wire-limit")
			b.ReportMetric(1/limit.Seconds(), "limit-polls/s")
			if st := m.Stats(); st.Errors() != 0 {
				b.Errorf("errors while polling: %+v", st)
			}
		})
	}
}
