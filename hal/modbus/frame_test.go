package modbus

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCRCCheckValue(t *testing.T) {
	// The CRC-16/MODBUS catalogue check value.
	if got := CRC16([]byte("123456789")); got != 0x4B37 {
		t.Fatalf("CRC16(123456789) = %#04x, want 0x4b37", got)
	}
}

type golden struct {
	name       string
	req        Request
	reqFrame   []byte
	respFrame  []byte
	expect     string
	lineNumber int
}

func loadGolden(t testing.TB) []golden {
	t.Helper()
	f, err := os.Open("testdata/golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, " | ")
		if len(cols) != 5 {
			t.Fatalf("golden.txt:%d: %d columns", n, len(cols))
		}
		var slave, fn, addr, count int
		if _, err := fmt.Sscanf(cols[1], "%d %d %d %d", &slave, &fn, &addr, &count); err != nil {
			t.Fatalf("golden.txt:%d: %v", n, err)
		}
		g := golden{name: cols[0], req: Request{Slave: byte(slave), Function: Function(fn), Address: uint16(addr), Count: uint16(count)}, expect: cols[4], lineNumber: n}
		if g.reqFrame, err = hex.DecodeString(strings.ReplaceAll(cols[2], " ", "")); err != nil {
			t.Fatalf("golden.txt:%d: %v", n, err)
		}
		if g.respFrame, err = hex.DecodeString(strings.ReplaceAll(cols[3], " ", "")); err != nil {
			t.Fatalf("golden.txt:%d: %v", n, err)
		}
		out = append(out, g)
	}
	if len(out) == 0 {
		t.Fatal("no golden frames")
	}
	return out
}

func TestGoldenFrames(t *testing.T) {
	for _, g := range loadGolden(t) {
		t.Run(g.name, func(t *testing.T) {
			got, err := EncodeRequest(g.req)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != hex.EncodeToString(g.reqFrame) {
				t.Errorf("request % x, want % x", got, g.reqFrame)
			}
			back, err := DecodeRequest(g.reqFrame)
			if err != nil || back != g.req {
				t.Errorf("DecodeRequest = %+v, %v; want %+v", back, err, g.req)
			}
			resp, err := DecodeResponse(g.req, g.respFrame)
			kind, arg, _ := strings.Cut(g.expect, " ")
			switch kind {
			case "regs":
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, r := range resp.Registers {
					want = append(want, strconv.Itoa(int(r)))
				}
				if strings.Join(want, ",") != arg {
					t.Errorf("registers %s, want %s", strings.Join(want, ","), arg)
				}
				// The slave side builds the same frame back.
				if b, err := EncodeResponse(g.req, resp); err != nil || hex.EncodeToString(b) != hex.EncodeToString(g.respFrame) {
					t.Errorf("EncodeResponse = % x, %v", b, err)
				}
			case "bits":
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				for _, v := range resp.Bits {
					b.WriteByte("01"[btoi(v)])
				}
				if b.String() != arg {
					t.Errorf("bits %s, want %s", b.String(), arg)
				}
				if fr, err := EncodeResponse(g.req, resp); err != nil || hex.EncodeToString(fr) != hex.EncodeToString(g.respFrame) {
					t.Errorf("EncodeResponse = % x, %v", fr, err)
				}
			case "exception":
				var ex *ExceptionError
				code, _ := strconv.Atoi(arg)
				if !errors.As(err, &ex) || int(ex.Code) != code || ex.Function != g.req.Function {
					t.Fatalf("err %v, want exception %d", err, code)
				}
				if b := EncodeException(g.req.Slave, g.req.Function, byte(code)); hex.EncodeToString(b) != hex.EncodeToString(g.respFrame) {
					t.Errorf("EncodeException = % x", b)
				}
			case "error":
				want := map[string]error{"crc": ErrCRC, "short": ErrShortFrame, "wrong_slave": ErrWrongSlave, "malformed": ErrMalformed}[arg]
				if want == nil {
					t.Fatalf("golden.txt:%d: unknown error %q", g.lineNumber, arg)
				}
				if !errors.Is(err, want) || resp.Registers != nil || resp.Bits != nil {
					t.Fatalf("got %+v, %v; want no value and %v", resp, err, want)
				}
			default:
				t.Fatalf("golden.txt:%d: unknown expectation %q", g.lineNumber, g.expect)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRequestLimits(t *testing.T) {
	bad := []Request{
		{Slave: 0, Function: ReadHoldingRegisters, Count: 1},
		{Slave: 248, Function: ReadHoldingRegisters, Count: 1},
		{Slave: 1, Function: 0x06, Count: 1}, // write single register: not ours
		{Slave: 1, Function: 0x10, Count: 1},
		{Slave: 1, Function: ReadHoldingRegisters, Count: 0},
		{Slave: 1, Function: ReadInputRegisters, Count: 126},
		{Slave: 1, Function: ReadCoils, Count: 2001},
		{Slave: 1, Function: ReadHoldingRegisters, Address: 65535, Count: 2},
	}
	for _, r := range bad {
		if _, err := EncodeRequest(r); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%+v: %v, want ErrInvalidRequest", r, err)
		}
	}
	if _, err := EncodeRequest(Request{Slave: 247, Function: ReadDiscreteInputs, Address: 65535, Count: 1}); err != nil {
		t.Errorf("last input of the last slave: %v", err)
	}
}

func TestDecodeRequestWriteIsIllegalFunction(t *testing.T) {
	// A write single register request (FC06) from another master: the
	// slave answers "illegal function"; the frame decodes no request.
	frame := appendCRC([]byte{1, 0x06, 0, 1, 0, 3})
	_, err := DecodeRequest(frame)
	var ex *ExceptionError
	if !errors.As(err, &ex) || ex.Code != ExIllegalFunction {
		t.Fatalf("err = %v, want illegal function", err)
	}
}

func TestSilentInterval(t *testing.T) {
	cases := map[int]time.Duration{
		9600:   4010416 * time.Nanosecond, // 3.5 × 11 / 9600
		19200:  2005208 * time.Nanosecond,
		38400:  1750 * time.Microsecond,
		115200: 1750 * time.Microsecond,
	}
	for baud, want := range cases {
		if got := SilentInterval(baud); got != want {
			t.Errorf("SilentInterval(%d) = %v, want %v", baud, got, want)
		}
	}
	if got := WireTime(35, 19200); got != 20052083*time.Nanosecond {
		t.Errorf("WireTime(35, 19200) = %v", got)
	}
}

func FuzzDecodeResponse(f *testing.F) {
	for _, g := range loadGolden(f) {
		f.Add(byte(g.req.Function), g.req.Count, g.respFrame)
	}
	f.Fuzz(func(t *testing.T, fn byte, count uint16, frame []byte) {
		req := Request{Slave: 1, Function: Function(fn%4 + 1), Address: 0, Count: count%MaxRegisters + 1}
		if len(frame) > 0 && frame[0] >= 1 && frame[0] <= 247 {
			req.Slave = frame[0]
		}
		resp, err := DecodeResponse(req, frame)
		if err != nil {
			if resp.Registers != nil || resp.Bits != nil {
				t.Fatalf("error %v with values", err)
			}
			return
		}
		if len(resp.Registers)+len(resp.Bits) != int(req.Count) {
			t.Fatalf("asked %d items, decoded %+v", req.Count, resp)
		}
		// A frame that decodes is exactly the frame we would build (bit
		// frames may carry padding bits we do not keep).
		again, err := EncodeResponse(req, resp)
		if err != nil {
			t.Fatalf("decoded %+v does not re-encode: %v", resp, err)
		}
		if !req.Function.IsBits() && string(again) != string(frame) {
			t.Fatalf("frame % x decoded to %+v which encodes to % x", frame, resp, again)
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	for _, g := range loadGolden(f) {
		f.Add(g.reqFrame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := DecodeRequest(frame)
		if err != nil {
			return
		}
		again, err := EncodeRequest(req)
		if err != nil || string(again) != string(frame) {
			t.Fatalf("frame % x decoded to %+v which encodes to % x (%v)", frame, req, again, err)
		}
	})
}
