package serialport

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// serialRS485 is struct serial_rs485 of <linux/serial.h>.
type serialRS485 struct {
	Flags              uint32
	DelayRTSBeforeSend uint32
	DelayRTSAfterSend  uint32
	padding            [5]uint32
}

const (
	rs485Enabled   = 1 << 0
	rs485RTSOnSend = 1 << 1
)

// enableRS485 turns on the driver's RS-485 mode: RTS drives the
// transmitter while sending. It fails with ENOTTY on ptys and on drivers
// without RS-485 support.
func enableRS485(path string) error {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s for RS-485 setup: %w", path, err)
	}
	defer unix.Close(fd)
	conf := serialRS485{Flags: rs485Enabled | rs485RTSOnSend}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.TIOCSRS485), uintptr(unsafe.Pointer(&conf))); errno != 0 {
		return fmt.Errorf("TIOCSRS485 on %s: %w", path, errno)
	}
	return nil
}
