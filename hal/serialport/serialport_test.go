package serialport

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/palier-lifts/palier/internal/logtest"
)

// openPair opens a pty and our Port on its slave side; the test plays the
// device on the master side.
func openPair(t *testing.T, cfg Config, logger *slog.Logger) (*Port, *os.File) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Path = slave.Name()
	p, err := Open(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		master.Close()
		slave.Close()
	})
	return p, master
}

func TestReadTimeoutIsZeroNil(t *testing.T) {
	p, _ := openPair(t, Config{Baud: 9600, ReadTimeout: 20 * time.Millisecond}, nil)
	buf := make([]byte, 16)
	for i := 0; i < 3; i++ {
		n, err := p.Read(buf)
		if n != 0 || err != nil {
			t.Fatalf("read on a silent line = %d, %v; want 0, nil", n, err)
		}
	}
}

func TestWriteAndRead(t *testing.T) {
	p, dev := openPair(t, Config{Baud: 19200, Parity: "N"}, nil)
	if _, err := p.Write([]byte{1, 3, 0, 0}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(dev, got); err != nil || !bytes.Equal(got, []byte{1, 3, 0, 0}) {
		t.Fatalf("device read % x, %v", got, err)
	}
	if _, err := dev.Write([]byte{9, 8, 7}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReadTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	var back []byte
	buf := make([]byte, 8)
	for len(back) < 3 {
		n, err := p.Read(buf)
		if err != nil || n == 0 {
			t.Fatalf("read = %d, %v", n, err)
		}
		back = append(back, buf[:n]...)
	}
	if !bytes.Equal(back, []byte{9, 8, 7}) {
		t.Fatalf("read % x", back)
	}
}

func TestRS485UnsupportedIsLoggedNotFatal(t *testing.T) {
	var logs logtest.Buffer
	_, _ = openPair(t, Config{RS485: true}, slog.New(slog.NewTextHandler(&logs, nil)))
	// A pty answers TIOCSRS485 with ENOTTY; under qemu-user the ioctl is not
	// translated and fails with ENOSYS. Either way: a warning, and the port opens.
	l := logs.String()
	if !strings.Contains(l, "RS-485") || !(strings.Contains(l, "inappropriate ioctl") || strings.Contains(l, "function not implemented")) {
		t.Fatalf("logs %q, want a warning about RS-485 and ENOTTY (ENOSYS under qemu)", l)
	}
}

// An adapter that reads back what it sends: the echo is swallowed, only
// the device's reply is read.
func TestEchoSuppression(t *testing.T) {
	p, dev := openPair(t, Config{EchoSuppression: true, ReadTimeout: 2 * time.Second}, nil)
	go func() {
		req := make([]byte, 4)
		if _, err := io.ReadFull(dev, req); err != nil {
			return
		}
		dev.Write(req)                // the echo
		dev.Write([]byte{0xAA, 0xBB}) // the reply
	}()
	if _, err := p.Write([]byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 8)
	for len(got) < 2 {
		n, err := p.Read(buf)
		if err != nil || n == 0 {
			t.Fatalf("read = %d, %v (got % x)", n, err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, []byte{0xAA, 0xBB}) {
		t.Fatalf("read % x, want the reply only", got)
	}
}

func TestEchoMismatch(t *testing.T) {
	p, dev := openPair(t, Config{EchoSuppression: true}, nil)
	go func() {
		req := make([]byte, 2)
		if _, err := io.ReadFull(dev, req); err == nil {
			dev.Write([]byte{req[0], req[1] ^ 0xFF})
		}
	}()
	if _, err := p.Write([]byte{5, 6}); !errors.Is(err, ErrEcho) {
		t.Fatalf("err = %v, want ErrEcho", err)
	}
}

func TestEchoMissing(t *testing.T) {
	p, _ := openPair(t, Config{EchoSuppression: true, Baud: 115200, EchoTimeout: 30 * time.Millisecond}, nil)
	if _, err := p.Write([]byte{5, 6}); !errors.Is(err, ErrEcho) {
		t.Fatalf("err = %v, want ErrEcho", err)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{},
		{Path: "/dev/x", Parity: "M"},
		{Path: "/dev/x", DataBits: 9},
		{Path: "/dev/x", StopBits: 3},
		{Path: "/dev/x", Baud: -1},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := Open(Config{Path: t.TempDir() + "/nope"}, nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("open of a missing device: %v", err)
	}
}
