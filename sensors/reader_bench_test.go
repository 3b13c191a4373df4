package sensors_test

import (
	"context"
	"testing"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/sensors"
)

// fixedBus answers every request with the same registers, as a controller
// standing still does.
type fixedBus struct{ regs []uint16 }

func (b fixedBus) Do(_ context.Context, req modbus.Request) (modbus.Response, error) {
	return modbus.Response{Registers: b.regs[:req.Count]}, nil
}

// BenchmarkProfileRead decodes one Sample of the palier-sim profile from a
// bus that answers at once: the decoding cost and garbage of each poll,
// without the wire.
func BenchmarkProfileRead(b *testing.B) {
	p, err := sensors.LoadProfile("profiles/palier-sim.yaml")
	if err != nil {
		b.Fatal(err)
	}
	regs := make([]uint16, modbus.MaxRegisters) // floor 0, doors closed, normal mode...
	r := sensors.NewProfileReader(p, fixedBus{regs})
	ctx := context.Background()
	if _, err := r.Read(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
