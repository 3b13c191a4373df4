package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Function is a Modbus function code. Only the four read functions exist.
type Function byte

// The read function codes; there is deliberately no write code.
const (
	ReadCoils            Function = 0x01
	ReadDiscreteInputs   Function = 0x02
	ReadHoldingRegisters Function = 0x03
	ReadInputRegisters   Function = 0x04
)

// Limits of one request, from the Modbus application protocol.
const (
	MaxRegisters = 125  // registers per FC03/FC04 request
	MaxBits      = 2000 // coils or inputs per FC01/FC02 request
	maxADU       = 256  // largest RTU frame
)

// String names the function for logs and installer messages.
func (f Function) String() string {
	switch f {
	case ReadCoils:
		return "read coils (01)"
	case ReadDiscreteInputs:
		return "read discrete inputs (02)"
	case ReadHoldingRegisters:
		return "read holding registers (03)"
	case ReadInputRegisters:
		return "read input registers (04)"
	}
	return fmt.Sprintf("function %#02x", byte(f))
}

// IsBits reports whether f reads single bits (coils or discrete inputs).
func (f Function) IsBits() bool { return f == ReadCoils || f == ReadDiscreteInputs }

func (f Function) valid() bool { return f >= ReadCoils && f <= ReadInputRegisters }

// Errors a caller can branch on and count. Every decoding failure wraps one
// of these (or is an *ExceptionError), so a bad frame is never a value.
var (
	// ErrTimeout: no byte came back within the response timeout.
	ErrTimeout = errors.New("modbus: no response (timeout)")
	// ErrShortFrame: the frame ended (silence) before its announced length.
	ErrShortFrame = errors.New("modbus: short frame")
	// ErrCRC: the frame's CRC-16 does not match its content.
	ErrCRC = errors.New("modbus: bad CRC")
	// ErrWrongSlave: a well-formed reply came from another slave id.
	ErrWrongSlave = errors.New("modbus: reply from wrong slave")
	// ErrMalformed: the frame has a valid CRC but makes no sense for the
	// request (other function, wrong byte count, trailing bytes).
	ErrMalformed = errors.New("modbus: malformed frame")
	// ErrInvalidRequest: the request itself is out of the protocol's limits.
	ErrInvalidRequest = errors.New("modbus: invalid request")
)

// Exception codes of the Modbus application protocol.
const (
	ExIllegalFunction   byte = 0x01
	ExIllegalAddress    byte = 0x02
	ExIllegalValue      byte = 0x03
	ExSlaveFailure      byte = 0x04
	ExAcknowledge       byte = 0x05
	ExSlaveBusy         byte = 0x06
	ExGatewayPath       byte = 0x0A
	ExGatewayNoResponse byte = 0x0B
)

// ExceptionError is an exception response from the slave: it answered, but
// refused the request.
type ExceptionError struct {
	Function Function // the function of the request (without the 0x80 bit)
	Code     byte
}

func (e *ExceptionError) Error() string {
	return fmt.Sprintf("modbus: exception %#02x (%s) to %s", e.Code, exceptionText(e.Code), e.Function)
}

// Temporary reports whether repeating the request later may succeed
// (slave busy, acknowledge, gateway).
func (e *ExceptionError) Temporary() bool {
	switch e.Code {
	case ExAcknowledge, ExSlaveBusy, ExGatewayNoResponse:
		return true
	}
	return false
}

func exceptionText(c byte) string {
	switch c {
	case ExIllegalFunction:
		return "illegal function"
	case ExIllegalAddress:
		return "illegal data address"
	case ExIllegalValue:
		return "illegal data value"
	case ExSlaveFailure:
		return "slave device failure"
	case ExAcknowledge:
		return "acknowledge"
	case ExSlaveBusy:
		return "slave device busy"
	case ExGatewayPath:
		return "gateway path unavailable"
	case ExGatewayNoResponse:
		return "gateway target failed to respond"
	}
	return "unknown"
}

// Request reads Count items from Address of one slave's table.
type Request struct {
	Slave    byte
	Function Function
	Address  uint16
	Count    uint16
}

// Validate checks the request against the protocol limits.
func (r Request) Validate() error {
	if r.Slave == 0 || r.Slave > 247 {
		return fmt.Errorf("slave %d not in 1..247: %w", r.Slave, ErrInvalidRequest)
	}
	if !r.Function.valid() {
		return fmt.Errorf("%s is not a read function: %w", r.Function, ErrInvalidRequest)
	}
	max := uint16(MaxRegisters)
	if r.Function.IsBits() {
		max = MaxBits
	}
	if r.Count == 0 || r.Count > max {
		return fmt.Errorf("count %d not in 1..%d: %w", r.Count, max, ErrInvalidRequest)
	}
	if int(r.Address)+int(r.Count) > 0x10000 {
		return fmt.Errorf("address %d + count %d past 65535: %w", r.Address, r.Count, ErrInvalidRequest)
	}
	return nil
}

// responseDataLen is the byte count a correct response to r carries.
func (r Request) responseDataLen() int {
	if r.Function.IsBits() {
		return (int(r.Count) + 7) / 8
	}
	return 2 * int(r.Count)
}

// ResponseLen is the length in bytes of a correct response frame to r.
func (r Request) ResponseLen() int { return 5 + r.responseDataLen() }

// RequestLen is the length in bytes of every read request frame.
const RequestLen = 8

// Response holds the decoded values: Registers for FC03/FC04, Bits for
// FC01/FC02 (exactly Count of them).
type Response struct {
	Registers []uint16
	Bits      []bool
}

// CRC16 is CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF).
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c)
		for i := 0; i < 8; i++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// appendCRC appends the CRC, low byte first as RTU sends it.
func appendCRC(b []byte) []byte {
	c := CRC16(b)
	return append(b, byte(c), byte(c>>8))
}

func checkCRC(frame []byte) bool {
	n := len(frame)
	return n >= 4 && CRC16(frame[:n-2]) == uint16(frame[n-2])|uint16(frame[n-1])<<8
}

// EncodeRequest builds the RTU frame of r.
func EncodeRequest(r Request) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return appendRequest(make([]byte, 0, RequestLen), r), nil
}

// appendRequest appends the frame of a valid request to b.
func appendRequest(b []byte, r Request) []byte {
	b = append(b, r.Slave, byte(r.Function))
	b = binary.BigEndian.AppendUint16(b, r.Address)
	b = binary.BigEndian.AppendUint16(b, r.Count)
	return appendCRC(b)
}

// DecodeResponse decodes frame as the response to req. Errors wrap
// ErrShortFrame, ErrCRC, ErrWrongSlave or ErrMalformed, or are an
// *ExceptionError; a value is returned only from a frame that is exactly
// right.
func DecodeResponse(req Request, frame []byte) (Response, error) {
	if len(frame) < 5 {
		return Response{}, fmt.Errorf("%d bytes: %w", len(frame), ErrShortFrame)
	}
	if frame[1] == byte(req.Function)|0x80 {
		if len(frame) != 5 {
			if !checkCRC(frame[:5]) {
				return Response{}, fmt.Errorf("exception frame of %d bytes: %w", len(frame), ErrMalformed)
			}
			return Response{}, fmt.Errorf("exception frame with %d trailing bytes: %w", len(frame)-5, ErrMalformed)
		}
	} else if frame[1] == byte(req.Function) {
		want := 5 + int(frame[2])
		if len(frame) < want {
			return Response{}, fmt.Errorf("%d of %d bytes: %w", len(frame), want, ErrShortFrame)
		}
		if len(frame) > want {
			return Response{}, fmt.Errorf("%d bytes, byte count says %d: %w", len(frame), want, ErrMalformed)
		}
	}
	if !checkCRC(frame) {
		return Response{}, fmt.Errorf("%d bytes: %w", len(frame), ErrCRC)
	}
	if frame[0] != req.Slave {
		return Response{}, fmt.Errorf("slave %d answered, asked %d: %w", frame[0], req.Slave, ErrWrongSlave)
	}
	switch frame[1] {
	case byte(req.Function) | 0x80:
		return Response{}, &ExceptionError{Function: req.Function, Code: frame[2]}
	case byte(req.Function):
	default:
		return Response{}, fmt.Errorf("function %#02x answered, asked %#02x: %w", frame[1], byte(req.Function), ErrMalformed)
	}
	data := frame[3 : len(frame)-2]
	if len(data) != req.responseDataLen() {
		return Response{}, fmt.Errorf("byte count %d, want %d for %d items: %w", len(data), req.responseDataLen(), req.Count, ErrMalformed)
	}
	if req.Function.IsBits() {
		bits := make([]bool, req.Count)
		for i := range bits {
			bits[i] = data[i/8]>>(i%8)&1 == 1
		}
		return Response{Bits: bits}, nil
	}
	regs := make([]uint16, req.Count)
	for i := range regs {
		regs[i] = binary.BigEndian.Uint16(data[2*i:])
	}
	return Response{Registers: regs}, nil
}

// responseLenSoFar tells, from the first bytes of a response, how long the
// whole frame will be; 0 while the header is incomplete.
func responseLenSoFar(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	if b[1]&0x80 != 0 {
		return 5
	}
	if len(b) < 3 {
		return 0
	}
	return 5 + int(b[2])
}

// DecodeRequest decodes a read request frame, as a slave (the simulator)
// receives it. A request for a function this package does not know gives an
// *ExceptionError with ExIllegalFunction and the request's slave, so the
// slave can answer it.
func DecodeRequest(frame []byte) (Request, error) {
	if len(frame) < 4 {
		return Request{}, fmt.Errorf("%d bytes: %w", len(frame), ErrShortFrame)
	}
	if !checkCRC(frame) {
		return Request{}, fmt.Errorf("%d bytes: %w", len(frame), ErrCRC)
	}
	r := Request{Slave: frame[0], Function: Function(frame[1])}
	if !r.Function.valid() {
		return r, &ExceptionError{Function: r.Function, Code: ExIllegalFunction}
	}
	if len(frame) != RequestLen {
		return r, fmt.Errorf("read request of %d bytes: %w", len(frame), ErrMalformed)
	}
	r.Address = binary.BigEndian.Uint16(frame[2:])
	r.Count = binary.BigEndian.Uint16(frame[4:])
	if err := r.Validate(); err != nil {
		return r, &ExceptionError{Function: r.Function, Code: ExIllegalValue}
	}
	return r, nil
}

// EncodeResponse builds the response frame to req (slave side). For
// register functions it takes len(req.Count) registers, for bit functions
// req.Count bits.
func EncodeResponse(req Request, resp Response) ([]byte, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	n := req.responseDataLen()
	b := make([]byte, 0, 5+n)
	b = append(b, req.Slave, byte(req.Function), byte(n))
	if req.Function.IsBits() {
		if len(resp.Bits) != int(req.Count) {
			return nil, fmt.Errorf("%d bits for %d asked: %w", len(resp.Bits), req.Count, ErrInvalidRequest)
		}
		data := make([]byte, n)
		for i, v := range resp.Bits {
			if v {
				data[i/8] |= 1 << (i % 8)
			}
		}
		b = append(b, data...)
	} else {
		if len(resp.Registers) != int(req.Count) {
			return nil, fmt.Errorf("%d registers for %d asked: %w", len(resp.Registers), req.Count, ErrInvalidRequest)
		}
		for _, v := range resp.Registers {
			b = binary.BigEndian.AppendUint16(b, v)
		}
	}
	return appendCRC(b), nil
}

// EncodeException builds an exception response frame (slave side).
func EncodeException(slave byte, fn Function, code byte) []byte {
	return appendCRC([]byte{slave, byte(fn) | 0x80, code})
}

// CharTime is the time one character takes on the wire: 11 bits (start,
// 8 data, parity or second stop, stop) at baud.
func CharTime(baud int) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(11 * int64(time.Second) / int64(baud))
}

// WireTime is the time n bytes take on the wire at baud.
func WireTime(n, baud int) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(int64(n) * 11 * int64(time.Second) / int64(baud))
}

// SilentInterval is the 3.5-character silence that separates RTU frames;
// the specification fixes it at 1.75 ms above 19200 baud.
func SilentInterval(baud int) time.Duration {
	if baud <= 0 || baud > 19200 {
		return 1750 * time.Microsecond
	}
	return time.Duration(35 * int64(time.Second) * 11 / 10 / int64(baud))
}
