package gpio

import (
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func set(p *gpiotest.Pin, l gpio.Level) {
	p.Lock()
	p.L = l
	p.Unlock()
}

func TestInputPolarityAndPull(t *testing.T) {
	p := &gpiotest.Pin{N: "GPIO17", Num: 17}
	in, err := NewInput(p, InputConfig{Line: "GPIO17", Pull: PullUp, ActiveLow: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Pull() != gpio.PullUp {
		t.Errorf("pull %v, want up", p.Pull())
	}
	now := time.Unix(0, 0)
	if in.Read(now) {
		t.Error("open contact with pull-up (line high) reads on")
	}
	set(p, gpio.Low) // contact closes to ground
	if !in.Read(now) {
		t.Error("closed contact reads off")
	}
}

func TestDebounce(t *testing.T) {
	p := &gpiotest.Pin{N: "GPIO5", Num: 5}
	in, err := NewInput(p, InputConfig{Line: "GPIO5", Pull: PullDown, Debounce: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	if in.Read(at(0)) {
		t.Fatal("starts on")
	}
	// A 10 ms bounce is ignored.
	set(p, gpio.High)
	if in.Read(at(1)) || in.Read(at(11)) {
		t.Error("accepted a bounce before 20 ms")
	}
	set(p, gpio.Low)
	if in.Read(at(12)) {
		t.Error("on after the bounce ended")
	}
	// A steady change is accepted after 20 ms.
	set(p, gpio.High)
	in.Read(at(30))
	if in.Read(at(49)) {
		t.Error("accepted after 19 ms")
	}
	if !in.Read(at(50)) {
		t.Error("not accepted after 20 ms")
	}
	if !in.Raw() {
		t.Error("raw level lost")
	}
}

func TestBadConfig(t *testing.T) {
	p := &gpiotest.Pin{N: "X"}
	if _, err := NewInput(p, InputConfig{Line: "X", Pull: "sideways"}); err == nil {
		t.Error("bad pull accepted")
	}
	if _, err := NewInput(p, InputConfig{Line: "X", Debounce: -1}); err == nil {
		t.Error("negative debounce accepted")
	}
	if _, err := ParsePull("UP"); err != nil {
		t.Error(err)
	}
}

// This machine has no GPIO chip: opening a line fails and names it.
func TestHostOpenMissingLine(t *testing.T) {
	var h Host
	_, err := h.Open("PALIER_NO_SUCH_LINE")
	if err == nil || !strings.Contains(err.Error(), "PALIER_NO_SUCH_LINE") {
		t.Fatalf("err = %v, want an error naming the line", err)
	}
}
