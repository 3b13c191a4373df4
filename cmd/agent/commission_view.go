package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/palier-lifts/palier/commission"
	"github.com/palier-lifts/palier/wire"
)

// liveView draws a commissioning session after each poll: the whole screen
// on a terminal, or one line each time something changed otherwise (logs,
// tests, a serial console).
type liveView struct {
	s           *commission.Session
	site, cabin string
	now         func() time.Time
	out         io.Writer
	tty         bool
	last        string
}

func (v *liveView) show() {
	s := v.s
	elapsed := v.now().Sub(s.Started()).Truncate(time.Second)
	if !v.tty {
		line := v.signalsLine() + " | " + seenLine(s.Tally())
		if line == v.last {
			return
		}
		v.last = line
		fmt.Fprintf(v.out, "%7.1fs %s\n", v.now().Sub(s.Started()).Seconds(), line)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Palier commissioning: %s/%s, %s, %s (Ctrl-C to finish)\n\n", v.site, v.cabin, s.Name(), elapsed)
	cur := s.Signals()
	for _, n := range slices.Sorted(maps.Keys(cur)) {
		mark := " "
		if s.Changed(n) {
			mark = "*"
		}
		fmt.Fprintf(&b, " %s %-28s %s\n", mark, n, cur[n])
	}
	st := s.State()
	fmt.Fprintf(&b, "\nstate   floor %d, %s, doors %s, mode %s, link %s\n", st.Floor, movingWord(st.Moving, st.Direction), strings.Join(st.Doors, "/"), st.Mode, st.Link)
	fmt.Fprintf(&b, "seen    %s\n", seenLine(s.Tally()))
	if todo := s.Report().NotSeen; len(todo) > 0 {
		fmt.Fprintf(&b, "to do   %s\n", strings.Join(todo, "; "))
	}
	if e := s.LastError(); e != "" {
		fmt.Fprintf(&b, "error   %s\n", e)
	}
	fmt.Fprint(&b, "(* changed at least once)\n")
	view := b.String()
	if view == v.last {
		return
	}
	v.last = view
	fmt.Fprint(v.out, "\x1b[H\x1b[2J"+view)
}

func movingWord(moving bool, dir string) string {
	if !moving {
		return "stopped"
	}
	return "moving " + dir
}

func (v *liveView) signalsLine() string {
	if e := v.s.LastError(); e != "" {
		return "poll error: " + e
	}
	cur := v.s.Signals()
	parts := make([]string, 0, len(cur))
	for _, n := range slices.Sorted(maps.Keys(cur)) {
		parts = append(parts, n+"="+cur[n])
	}
	return strings.Join(parts, " ")
}

func seenLine(t commission.Tally) string {
	return fmt.Sprintf("trips %d %v, door cycles %d, reopens %d, floors %v, faults %v, alarm %t, modes %v, poll errors %d",
		t.Trips, t.Directions, t.DoorCycles, t.Reopens, t.Floors, t.Faults, t.Alarm, t.Modes, t.PollErrors)
}

// formatReport is the end-of-session summary for the installer.
func formatReport(site, cabin string, d wire.CommissionReportData) string {
	var b strings.Builder
	none := func(n int, s string) string {
		if n == 0 {
			return "none"
		}
		return s
	}
	fmt.Fprintf(&b, "\nCommissioning report for %s/%s (%s): %s, %d polls, %d failed\n", site, cabin, d.Source,
		(time.Duration(d.DurationS * float64(time.Second))).Round(time.Second), d.Polls, d.PollErrors)
	fmt.Fprintf(&b, "  trips          %d %s\n", d.Trips, none(len(d.Directions), strings.Join(d.Directions, ", ")))
	fmt.Fprintf(&b, "  door cycles    %d (%d reopens)\n", d.DoorCycles, d.Reopens)
	fmt.Fprintf(&b, "  floors         %s\n", none(len(d.Floors), strings.Trim(fmt.Sprint(d.Floors), "[]")))
	fmt.Fprintf(&b, "  modes          %s\n", none(len(d.Modes), strings.Join(d.Modes, ", ")))
	fmt.Fprintf(&b, "  faults         %s\n", none(len(d.Faults), strings.Trim(fmt.Sprint(d.Faults), "[]")))
	fmt.Fprintf(&b, "  alarm          %t\n", d.Alarm)
	fmt.Fprintf(&b, "  entrapment     %t\n", d.Entrapment)
	if len(d.NotSeen) == 0 {
		fmt.Fprint(&b, "Everything the source can show was seen.\n")
	} else {
		fmt.Fprint(&b, "Not seen (test these before leaving the cabin):\n")
		for _, n := range d.NotSeen {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	return b.String()
}

// isTerminal reports whether w is a terminal: only then is the screen
// cleared between refreshes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
