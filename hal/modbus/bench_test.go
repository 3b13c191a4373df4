package modbus_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/hal/serialport"
)

// countingPort counts the reads that returned bytes: each is one wake-up
// of the polling goroutine.
type countingPort struct {
	*serialport.Port
	reads atomic.Int64
}

func (c *countingPort) Read(p []byte) (int, error) {
	n, err := c.Port.Read(p)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

// pacedSlave answers FC03 requests on the master side of a pty at wire
// speed, as a controller on a real line would: the reply ends one request
// wire time, one silent interval and one reply wire time after the request
// arrived. With burst > 0 the reply comes in chunks of burst bytes, each at
// its own wire time, the way a UART FIFO or a USB adapter hands it over.
func pacedSlave(dev *os.File, baud, burst int) {
	req := make([]byte, modbus.RequestLen)
	for {
		if _, err := readFull(dev, req); err != nil {
			return
		}
		arrived := time.Now()
		r, err := modbus.DecodeRequest(req)
		if err != nil {
			return
		}
		regs := make([]uint16, r.Count)
		for i := range regs {
			regs[i] = uint16(i)
		}
		reply, _ := modbus.EncodeResponse(r, modbus.Response{Registers: regs})
		start := arrived.Add(modbus.WireTime(len(req), baud) + modbus.SilentInterval(baud))
		step := burst
		if step <= 0 {
			step = len(reply)
		}
		for off := 0; off < len(reply); off += step {
			end := min(off+step, len(reply))
			time.Sleep(time.Until(start.Add(modbus.WireTime(end, baud))))
			if _, err := dev.Write(reply[off:end]); err != nil {
				return
			}
		}
	}
}

// pollablePty opens a pty whose master side is read through the runtime's
// poller: creack/pty leaves it blocking, and a slave blocked in read(2)
// would charge the runtime's thread juggling to every poll measured.
func pollablePty(b *testing.B) (dev, slave *os.File) {
	m, slave, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	fd, err := unix.Dup(int(m.Fd()))
	if err != nil {
		b.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		b.Fatal(err)
	}
	return os.NewFile(uintptr(fd), "ptmx"), slave
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// BenchmarkPollOverPty reads the 11 registers of the palier-sim profile
// (one FC03 request) over a pty at 19200 baud, as the agent polls. It
// reports per poll the reads that returned bytes (wake-ups of the polling
// goroutine) and the allocations. Process CPU is left to
// scripts/measure-agent.sh: here the slave shares the process, and its own
// system calls keep the runtime's monitor thread busy, which would be
// charged to the master.
func BenchmarkPollOverPty(b *testing.B) {
	const baud = 19200
	for _, burst := range []int{0, 8} {
		name := "reply=whole"
		if burst > 0 {
			name = fmt.Sprintf("reply=bursts-of-%d", burst)
		}
		b.Run(name, func(b *testing.B) {
			dev, slave := pollablePty(b)
			p, err := serialport.Open(serialport.Config{Path: slave.Name(), Baud: baud}, nil)
			if err != nil {
				b.Fatal(err)
			}
			port := &countingPort{Port: p}
			go pacedSlave(dev, baud, burst)
			b.Cleanup(func() {
				p.Close()
				dev.Close()
				slave.Close()
			})
			m := modbus.NewMaster(port, modbus.Config{Baud: baud, ResponseTimeout: 2 * time.Second}, nil)
			ctx := context.Background()
			if _, err := m.ReadHoldingRegisters(ctx, 1, 0, 11); err != nil { // warm up
				b.Fatal(err)
			}
			port.reads.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.ReadHoldingRegisters(ctx, 1, 0, 11); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(port.reads.Load())/float64(b.N), "reads/poll")
		})
	}
}
