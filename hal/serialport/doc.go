// Package serialport opens serial lines for the field bus.
//
// Concepts:
//   - Config: path, baud, data bits, parity (N/E/O), stop bits, read
//     timeout, and the RS-485 options (kernel RS-485 mode, echo
//     suppression).
//   - Port: an open line. A read that times out returns n=0, err=nil, the
//     go.bug.st/serial convention that hal/modbus treats as silence.
//   - On Linux the line is opened non-blocking and configured with termios
//     directly, and a read waits in the Go runtime's poller: no OS thread
//     sits in a system call while a reply is on its way (line_linux.go).
//     go.bug.st/serial blocks a thread in select(2) for each read, which
//     kept the runtime's monitor thread spinning: the agent polling at 10 Hz
//     used 0.51 - 0.53 % of a core with it against 0.29 % with the poller
//     (scripts/measure-agent.sh). Other systems use go.bug.st/serial, and so
//     does a Linux build with -tags serial_bugst (a fallback should an
//     adapter's driver misbehave with non-blocking reads; scripts/test.sh
//     runs the hal tests both ways).
//   - RS-485 mode (TIOCSRS485) is best effort: a driver or a pty that does
//     not support it answers ENOTTY, which is logged and not fatal.
//   - Echo suppression is for adapters that read back what they send: the
//     bytes just written are read and discarded before any reply.
//   - Resilient wraps a Port for adapters that disappear and come back
//     (USB): after an I/O error it closes the line and reopens it with
//     doubling backoff, failing fast with ErrPortDown meanwhile and
//     reporting the outage (log, OnChange, Stats) instead of giving up.
package serialport
