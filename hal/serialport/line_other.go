//go:build !linux || serial_bugst

package serialport

import (
	"strings"

	"go.bug.st/serial"
)

// openLine opens the line with go.bug.st/serial; on Linux, line_linux.go
// reads through the runtime's poller instead.
func openLine(cfg Config) (line, error) { return serial.Open(cfg.Path, cfg.mode()) }

func (c Config) mode() *serial.Mode {
	m := &serial.Mode{BaudRate: c.Baud, DataBits: c.DataBits, StopBits: serial.OneStopBit}
	if c.StopBits == 2 {
		m.StopBits = serial.TwoStopBits
	}
	switch strings.ToUpper(c.Parity) {
	case "E":
		m.Parity = serial.EvenParity
	case "O":
		m.Parity = serial.OddParity
	default:
		m.Parity = serial.NoParity
	}
	return m
}
