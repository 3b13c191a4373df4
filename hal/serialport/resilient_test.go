package serialport

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// adapter is a pty whose slave path is reachable through a stable
// symlink, like a udev name for a USB adapter; unplug removes it.
type adapter struct {
	master, slave *os.File
}

func plug(t *testing.T, link string) *adapter {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(link)
	if err := os.Symlink(s.Name(), link); err != nil {
		t.Fatal(err)
	}
	return &adapter{m, s}
}

func (a *adapter) unplug(link string) {
	os.Remove(link)
	a.master.Close()
	a.slave.Close()
}

// echo answers each byte the agent writes with the same byte plus one.
func (a *adapter) echo() {
	b := make([]byte, 64)
	for {
		n, err := a.master.Read(b)
		if err != nil {
			return
		}
		for i := range b[:n] {
			b[i]++
		}
		a.master.Write(b[:n])
	}
}

func roundTrip(r *Resilient, v byte) (byte, error) {
	if err := r.ResetInputBuffer(); err != nil {
		return 0, err
	}
	if _, err := r.Write([]byte{v}); err != nil {
		return 0, err
	}
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if err != nil {
			return 0, err
		}
		if n == 1 {
			return b[0], nil
		}
	}
}

func TestResilientReopensAfterUnplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyPALIER")
	var mu sync.Mutex
	now := time.Unix(0, 0)
	var changes []error
	r, err := NewResilient(ResilientConfig{
		Port:       Config{Path: link, ReadTimeout: 2 * time.Second},
		MinBackoff: time.Second, MaxBackoff: 4 * time.Second,
		Now:      func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		OnChange: func(err error) { changes = append(changes, err) },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	a := plug(t, link)
	go a.echo()
	if v, err := roundTrip(r, 1); err != nil || v != 2 {
		t.Fatalf("round trip = %d, %v", v, err)
	}

	// Unplugged: the next operation fails, the outage is reported once.
	a.unplug(link)
	if _, err := roundTrip(r, 1); err == nil {
		t.Fatal("round trip on an unplugged adapter succeeded")
	}
	// Within the backoff, no attempt is made: fast ErrPortDown.
	if _, err := roundTrip(r, 1); !errors.Is(err, ErrPortDown) {
		t.Fatalf("during backoff: %v, want ErrPortDown", err)
	}
	// After it, the attempt fails (still unplugged) and the backoff doubles.
	advance(time.Second)
	if _, err := roundTrip(r, 1); err == nil || errors.Is(err, ErrPortDown) {
		t.Fatalf("open attempt: %v, want the open error", err)
	}
	advance(time.Second)
	if _, err := roundTrip(r, 1); !errors.Is(err, ErrPortDown) {
		t.Fatalf("doubled backoff not kept: %v", err)
	}

	// Plugged back in: reopened after the backoff, and it works.
	b := plug(t, link)
	defer b.unplug(link)
	go b.echo()
	advance(time.Second)
	if v, err := roundTrip(r, 7); err != nil || v != 8 {
		t.Fatalf("after replug: %d, %v", v, err)
	}
	st := r.Stats()
	if st.Outages != 1 || st.Reopens != 1 || st.OpenFailures != 1 || st.Down {
		t.Errorf("stats %+v, want 1 outage, 1 reopen, 1 failed open", st)
	}
	if len(changes) != 2 || changes[0] == nil || changes[1] != nil {
		t.Errorf("changes %v, want lost then back", changes)
	}
}

func TestResilientFirstOpenFails(t *testing.T) {
	r, err := NewResilient(ResilientConfig{Port: Config{Path: filepath.Join(t.TempDir(), "none")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte{1}); err == nil {
		t.Fatal("write to a missing device succeeded")
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrPortDown) {
		t.Fatalf("read: %v, want ErrPortDown", err)
	}
	if st := r.Stats(); !st.Down || st.Outages != 1 {
		t.Errorf("stats %+v", st)
	}
	var _ io.ReadWriter = r
}
