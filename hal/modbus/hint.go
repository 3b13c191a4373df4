package modbus

import (
	"errors"
	"fmt"
	"strings"
)

// Hint turns an error of Do into advice for an installer on site: what the
// failure means and what to check, in that order of likelihood.
func Hint(err error) string {
	var ex *ExceptionError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ex):
		switch ex.Code {
		case ExIllegalFunction:
			return "The controller refused the function. It may keep these values in the other table: try --input instead of --holding (or the reverse)."
		case ExIllegalAddress:
			return "The controller has no such address. Check the register map: documentation often counts from 1 (register 40001 is address 0), and some controllers refuse reads across unused registers."
		case ExIllegalValue:
			return "The controller refused the count. Read fewer registers at a time."
		case ExSlaveFailure:
			return "The controller reported an internal failure while reading. Retry; if it persists, the controller needs attention."
		case ExAcknowledge, ExSlaveBusy:
			return "The controller is busy. Retry in a moment; poll less often if it happens regularly."
		case ExGatewayPath, ExGatewayNoResponse:
			return "A gateway answered but could not reach the controller behind it. Check the gateway's serial side and the slave id."
		}
		return fmt.Sprintf("The controller answered with exception %#02x. Look it up in its Modbus documentation.", ex.Code)
	case errors.Is(err, ErrSlaveBackedOff):
		return "This slave stopped answering and is asked again only from time to time. " + timeoutHint
	case errors.Is(err, ErrTimeout):
		return "Nothing came back. " + timeoutHint
	case errors.Is(err, ErrCRC):
		return "A reply came back garbled (bad CRC). Check that baud rate and parity match the controller exactly, then the cable: twisted pair, shield grounded at one end, 120 ohm termination at both ends of the bus."
	case errors.Is(err, ErrShortFrame):
		return "A reply started and stopped short. Check for noise on the line (termination, shielding, cable run along power wires) and for a second master on the bus."
	case errors.Is(err, ErrWrongSlave):
		return "Another device answered. Two devices may share this slave id, or another master is polling the bus."
	case errors.Is(err, ErrMalformed):
		return "The reply does not fit the request. Another master may be on the bus, or the adapter echoes what it sends (enable echo suppression)."
	case errors.Is(err, ErrInvalidRequest):
		return "The request itself is out of range: slave 1..247, at most 125 registers or 2000 coils per read."
	case errors.Is(err, errPort):
		return "The serial port itself failed. Check the device path (ls /dev/serial/by-id/), that the adapter is plugged in, permissions (the dialout group) and that no other program holds the port."
	}
	return ""
}

const timeoutHint = "Check, in this order: the slave id, baud rate and parity (must match the controller), the A/B wires (swap them if unsure), " +
	"that the controller's Modbus port is enabled, and the 120 ohm termination."

// FormatExchange renders an Exchange for humans: "sent 01 03 ... / received
// 01 83 02 ..." or "received nothing".
func FormatExchange(e Exchange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent % x", e.Sent)
	if len(e.Received) == 0 {
		b.WriteString(", received nothing")
	} else {
		fmt.Fprintf(&b, ", received % x", e.Received)
	}
	return b.String()
}
