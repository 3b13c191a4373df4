package modbus

import (
	"fmt"
	"testing"
)

func TestHintCoversEveryFailure(t *testing.T) {
	errs := []error{ErrTimeout, ErrShortFrame, ErrCRC, ErrWrongSlave, ErrMalformed, ErrInvalidRequest, ErrSlaveBackedOff,
		&portError{fmt.Errorf("read: input/output error")}}
	for c := byte(1); c <= 0x0B; c++ {
		errs = append(errs, &ExceptionError{Function: ReadHoldingRegisters, Code: c})
	}
	for _, err := range errs {
		if Hint(fmt.Errorf("read holding registers: %w", err)) == "" {
			t.Errorf("no hint for %v", err)
		}
	}
	if Hint(nil) != "" {
		t.Error("hint for no error")
	}
}
