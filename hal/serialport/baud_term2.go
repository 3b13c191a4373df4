//go:build linux && !ppc && !ppc64 && !ppc64le && !serial_bugst

package serialport

import "golang.org/x/sys/unix"

// setOtherBaud sets a speed that has no Bnnn constant (termios2, BOTHER).
func setOtherBaud(fd int, baud uint32) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS2)
	if err != nil {
		return err
	}
	t.Cflag &^= unix.CBAUD
	t.Cflag |= unix.BOTHER
	t.Ispeed, t.Ospeed = baud, baud
	return unix.IoctlSetTermios(fd, unix.TCSETS2, t)
}
