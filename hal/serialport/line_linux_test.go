//go:build !serial_bugst

package serialport

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// termiosOf reads the settings of the tty behind f (the test's own
// descriptor of the pty slave the Port opened); req is TCGETS or TCGETS2.
func termiosOf(t *testing.T, f *os.File, req uint) *unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), req)
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

// exclusive reports whether the tty behind f is taken exclusively; qemu-user
// does not translate TIOCGEXCL (ENOSYS), and then the check is skipped.
func exclusive(t *testing.T, f *os.File) (excl, known bool) {
	t.Helper()
	v, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGEXCL)
	if errors.Is(err, unix.ENOSYS) {
		t.Log("TIOCGEXCL not implemented (qemu-user): exclusive mode not checked")
		return false, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return v == 1, true
}

func openOnPty(t *testing.T, cfg Config) (p *Port, master, slave *os.File) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	cfg.Path = slave.Name()
	p, err = Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, master, slave
}

func TestLineSettingsApplied(t *testing.T) {
	_, _, slave := openOnPty(t, Config{Baud: 9600, DataBits: 7, Parity: "O", StopBits: 2})
	tio := termiosOf(t, slave, unix.TCGETS)
	// A pty forces CS8 and clears PARENB whatever is asked; what it keeps
	// must be what we set.
	if tio.Cflag&unix.PARODD == 0 || tio.Cflag&unix.CSTOPB == 0 || tio.Cflag&unix.CRTSCTS != 0 || tio.Cflag&unix.CLOCAL == 0 {
		t.Errorf("cflag %#o: want odd parity, 2 stop bits, local, no flow control", tio.Cflag)
	}
	if tio.Iflag&unix.INPCK == 0 || tio.Iflag&(unix.IXON|unix.ICRNL) != 0 {
		t.Errorf("iflag %#o: want parity checked, no flow control or CR translation", tio.Iflag)
	}
	if tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || tio.Oflag&unix.OPOST != 0 {
		t.Errorf("lflag %#o oflag %#o: want raw mode", tio.Lflag, tio.Oflag)
	}
	if tio.Cflag&unix.CBAUD != unix.B9600 || tio.Cc[unix.VMIN] != 1 || tio.Cc[unix.VTIME] != 0 {
		t.Errorf("speed %#o VMIN %d VTIME %d: want B9600, 1, 0", tio.Cflag&unix.CBAUD, tio.Cc[unix.VMIN], tio.Cc[unix.VTIME])
	}
	if excl, known := exclusive(t, slave); known && !excl {
		t.Error("line not taken exclusively")
	}
}

func TestLineOtherBaud(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	p, err := Open(Config{Path: slave.Name(), Baud: 250000}, nil)
	if errors.Is(err, unix.ENOSYS) {
		t.Skip("termios2 not implemented (qemu-user):", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tio := termiosOf(t, slave, unix.TCGETS2)
	if tio.Cflag&unix.CBAUD != unix.BOTHER || tio.Ospeed != 250000 {
		t.Errorf("speed flags %#o, ospeed %d: want BOTHER and 250000", tio.Cflag&unix.CBAUD, tio.Ospeed)
	}
}

func TestCloseReleasesLineAndWakesReader(t *testing.T) {
	p, _, slave := openOnPty(t, Config{ReadTimeout: time.Minute})
	res := make(chan error, 1)
	go func() {
		_, err := p.Read(make([]byte, 8))
		res <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the Read start waiting; either order passes
	p.Close()
	select {
	case err := <-res:
		if err == nil {
			t.Error("Read on a closed port returned no error")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not wake the pending Read")
	}
	if excl, known := exclusive(t, slave); known && excl {
		t.Error("line still taken exclusively after Close")
	}
}

// A device that goes away (the pty's other side closed, as an unplugged
// USB adapter hangs up) fails the Read, so Resilient reopens the line.
func TestHangUpIsAnError(t *testing.T) {
	p, master, _ := openOnPty(t, Config{ReadTimeout: 5 * time.Second})
	master.Close()
	n, err := p.Read(make([]byte, 8))
	if err == nil {
		t.Fatalf("read after hang-up = %d, nil; want an error", n)
	}
}

// Reads waiting for a reply park goroutines, not OS threads: fifty ports
// waiting at once leave the process with far fewer than fifty threads
// (go.bug.st/serial held one thread in select(2) per waiting read).
func TestWaitingReadsHoldNoThreads(t *testing.T) {
	const ports = 50
	var wg sync.WaitGroup
	started := make(chan struct{}, ports)
	for i := 0; i < ports; i++ {
		p, _, _ := openOnPty(t, Config{ReadTimeout: 2 * time.Second})
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			p.Read(make([]byte, 8))
		}()
	}
	for i := 0; i < ports; i++ {
		<-started
	}
	time.Sleep(200 * time.Millisecond) // all reads are waiting now (2 s timeout)
	threads := threadCount(t)
	wg.Wait()
	if threads >= ports {
		t.Fatalf("%d OS threads while %d reads wait; want far fewer", threads, ports)
	}
}

func threadCount(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}
