//go:build linux && (ppc || ppc64 || ppc64le) && !serial_bugst

package serialport

import "errors"

// setOtherBaud: these kernels have no termios2 ioctls in x/sys.
func setOtherBaud(int, uint32) error { return errors.ErrUnsupported }
