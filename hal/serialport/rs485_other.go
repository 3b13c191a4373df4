//go:build !linux

package serialport

import (
	"errors"
	"fmt"
)

func enableRS485(path string) error {
	return fmt.Errorf("RS-485 mode on %s: %w", path, errors.ErrUnsupported)
}
