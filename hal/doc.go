// Package hal groups the hardware access of the agent: it knows bytes, lines
// and registers, never elevators.
//
//   - hal/serialport opens serial lines (baud, parity, stop bits, read
//     timeouts, RS-485 mode, echo suppression): termios and the Go
//     runtime's poller on Linux, go.bug.st/serial elsewhere (and with
//     -tags serial_bugst).
//   - hal/modbus is a read-only Modbus RTU master: function codes 01 to 04,
//     nothing that writes to a controller exists in it.
//   - hal/gpio reads debounced dry contacts on GPIO lines through periph.io.
//
// Meaning (which register is the floor) lives in package sensors; hal never
// imports it.
package hal
