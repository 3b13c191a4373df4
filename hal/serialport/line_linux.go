//go:build linux && !serial_bugst

package serialport

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ttyLine is a serial line opened non-blocking and read through the Go
// runtime's poller. go.bug.st/serial blocks an OS thread in select(2) for
// every read; a Modbus reply takes tens of milliseconds to arrive, and a
// thread parked in a system call that long keeps the runtime's monitor
// thread (sysmon) spinning and retaking its P, which was half of the
// agent's CPU while polling. Here a waiting read parks only its goroutine.
type ttyLine struct {
	f       *os.File
	rc      syscall.RawConn
	rd, wr  *rawOp       // one Read and one Write may run at once
	timeout atomic.Int64 // read timeout, nanoseconds

	flush    func(fd uintptr) // made once: ResetInputBuffer allocates nothing
	flushErr unix.Errno
}

func openLine(cfg Config) (line, error) {
	// O_NONBLOCK makes os.OpenFile register the descriptor with the poller;
	// O_NOCTTY keeps the line from becoming our controlling terminal.
	f, err := os.OpenFile(cfg.Path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return nil, pe.Err // Open names the path already
	}
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &ttyLine{f: f, rc: rc, rd: newRawOp(unix.SYS_READ), wr: newRawOp(unix.SYS_WRITE)}
	l.flush = func(fd uintptr) {
		_, _, l.flushErr = unix.RawSyscall(unix.SYS_IOCTL, fd, unix.TCFLSH, unix.TCIFLUSH)
	}
	if err := l.control(func(fd int) error { return configure(fd, cfg) }); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// configure sets raw mode and the line settings, then takes the line
// exclusively (as go.bug.st/serial does) so a second agent cannot share it.
func configure(fd int, cfg Config) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("get line settings: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL |
		unix.IXON | unix.IXOFF | unix.IXANY | unix.IUCLC | unix.INPCK | unix.IGNPAR
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL | unix.ECHOCTL | unix.ECHOPRT |
		unix.ECHOKE | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.PARODD | unix.CMSPAR | unix.CSTOPB | unix.CRTSCTS
	t.Cflag |= unix.CREAD | unix.CLOCAL
	t.Cflag |= map[int]uint32{5: unix.CS5, 6: unix.CS6, 7: unix.CS7, 8: unix.CS8}[cfg.DataBits]
	switch strings.ToUpper(cfg.Parity) {
	case "E":
		t.Cflag |= unix.PARENB
		t.Iflag |= unix.INPCK
	case "O":
		t.Cflag |= unix.PARENB | unix.PARODD
		t.Iflag |= unix.INPCK
	}
	if cfg.StopBits == 2 {
		t.Cflag |= unix.CSTOPB
	}
	// Readable as soon as one byte is there: hal/modbus decides how long to
	// wait for the rest of a frame.
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	speed, standard := baudRates[cfg.Baud]
	if standard {
		t.Cflag &^= unix.CBAUD
		t.Cflag |= speed
		t.Ispeed, t.Ospeed = speed, speed
	}
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("set line settings: %w", err)
	}
	if !standard {
		if err := setOtherBaud(fd, uint32(cfg.Baud)); err != nil {
			return fmt.Errorf("set baud %d: %w", cfg.Baud, err)
		}
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
		return fmt.Errorf("take the line exclusively: %w", err)
	}
	return nil
}

var baudRates = map[int]uint32{
	50: unix.B50, 75: unix.B75, 110: unix.B110, 134: unix.B134, 150: unix.B150, 200: unix.B200, 300: unix.B300,
	600: unix.B600, 1200: unix.B1200, 1800: unix.B1800, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600,
	19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600, 115200: unix.B115200, 230400: unix.B230400,
	460800: unix.B460800, 500000: unix.B500000, 576000: unix.B576000, 921600: unix.B921600, 1000000: unix.B1000000,
	1152000: unix.B1152000, 1500000: unix.B1500000, 2000000: unix.B2000000, 2500000: unix.B2500000,
	3000000: unix.B3000000, 3500000: unix.B3500000, 4000000: unix.B4000000,
}

// control runs f on the descriptor, keeping it open meanwhile.
func (l *ttyLine) control(f func(fd int) error) error {
	var ferr error
	if err := l.rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// Read, Write and ResetInputBuffer use raw system calls: on a non-blocking
// descriptor they return at once, and a plain syscall.Syscall would wake
// sysmon from its deep sleep three times per request for nothing. Waiting
// is left to the poller (RawConn.Read parks the goroutine on EAGAIN).
func (l *ttyLine) Read(p []byte) (int, error) {
	if err := l.f.SetReadDeadline(time.Now().Add(time.Duration(l.timeout.Load()))); err != nil {
		return 0, err
	}
	l.rd.p = p
	err := l.rc.Read(l.rd.do)
	n, errno := l.rd.n, l.rd.errno
	l.rd.p = nil
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, errno
	case n == 0 && len(p) > 0:
		// A hung-up line (USB adapter unplugged) reads as end of file.
		return 0, errors.New("line hung up")
	}
	return n, nil
}

func (l *ttyLine) Write(p []byte) (int, error) {
	l.wr.p, l.wr.n = p, 0
	err := l.rc.Write(l.wr.do)
	n, errno := l.wr.n, l.wr.errno
	l.wr.p = nil
	if err == nil && errno != 0 {
		err = errno
	}
	return n, err
}

// rawOp is one read or write through RawConn; its do method is made once
// per line, so an operation allocates no closure.
type rawOp struct {
	p     []byte
	n     int
	errno unix.Errno
	do    func(fd uintptr) bool // reports whether the operation is over
}

func newRawOp(trap uintptr) *rawOp { // trap: SYS_READ or SYS_WRITE
	op := &rawOp{}
	op.do = func(fd uintptr) bool {
		if trap == unix.SYS_READ {
			op.n, op.errno = rawIO(trap, fd, op.p)
			return op.errno != unix.EAGAIN
		}
		for op.n < len(op.p) {
			var n int
			n, op.errno = rawIO(trap, fd, op.p[op.n:])
			if op.errno != 0 {
				return op.errno != unix.EAGAIN
			}
			op.n += n
		}
		return true
	}
	return op
}

func rawIO(trap, fd uintptr, p []byte) (int, unix.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	for {
		n, _, errno := unix.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != unix.EINTR {
			return int(n), errno
		}
	}
}

func (l *ttyLine) SetReadTimeout(d time.Duration) error {
	l.timeout.Store(int64(d))
	return nil
}

func (l *ttyLine) ResetInputBuffer() error {
	if err := l.rc.Control(l.flush); err != nil {
		return err
	}
	if l.flushErr != 0 {
		return l.flushErr
	}
	return nil
}

// Close gives the line up for others, then closes it; a Read in progress
// returns at once with an error.
func (l *ttyLine) Close() error {
	_ = l.control(func(fd int) error { return unix.IoctlSetInt(fd, unix.TIOCNXCL, 0) })
	return l.f.Close()
}
