package agent

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// updateRig is one cabin's state folder seen by successive agent versions,
// with a clock, a health probe and the events recorded.
type updateRig struct {
	t      *testing.T
	dir    string
	now    time.Time
	health updateHealth
	events []wire.Event
	kicks  int
}

func newUpdateRig(t *testing.T) *updateRig {
	return &updateRig{t: t, dir: t.TempDir(), now: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)}
}

// start is an agent of version own starting on the folder.
func (r *updateRig) start(own string) *updater {
	u := newUpdater(r.dir, own, slog.New(slog.DiscardHandler))
	u.now = func() time.Time { return r.now }
	u.started = r.now
	u.probe = func() updateHealth { return r.health }
	u.emit = func(typ string, d wire.UpdateData) {
		ev, err := wire.NewEvent(r.now, typ, d)
		if err != nil {
			r.t.Fatal(err)
		}
		// What the receiver would refuse must not be made.
		ev.Seq = uint64(len(r.events) + 1)
		if err := ev.Validate(); err != nil {
			r.t.Fatalf("the %s event does not validate: %v", typ, err)
		}
		r.events = append(r.events, ev)
	}
	u.kick = func() { r.kicks++ }
	return u
}

func (r *updateRig) file(name string) string {
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

func (r *updateRig) helper(status, version, reason string) {
	body := "status=" + status + "\nversion=" + version + "\nprevious=1.4.0\nreason=" + reason + "\n"
	if err := os.WriteFile(filepath.Join(r.dir, UpdateResultFile), []byte(body), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *updateRig) lastEvent() (string, wire.UpdateData) {
	r.t.Helper()
	if len(r.events) == 0 {
		r.t.Fatal("no update event")
	}
	ev := r.events[len(r.events)-1]
	var d wire.UpdateData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		r.t.Fatal(err)
	}
	return ev.Type, d
}

func want(v uint64, version, channel string) wire.Update {
	return wire.Update{V: wire.Version, Site: "s", Cabin: "c", Version: version, Channel: channel, Wave: v, At: time.Now()}
}

func TestUpdateAppliedWhenTheNewVersionIsHealthy(t *testing.T) {
	r := newUpdateRig(t)
	old := r.start("v1.4.0")
	if got := old.desired(want(1, "v1.4.0", wire.ChannelStable)); got != "running it" || r.file(UpdateRequestFile) != "" {
		t.Fatalf("its own version: %q, request %q", got, r.file(UpdateRequestFile))
	}
	if got := old.desired(want(7, "v1.5.0-rc.1", wire.ChannelCanary)); got != "requested" {
		t.Fatalf("a new version: %q", got)
	}
	if req := r.file(UpdateRequestFile); req != "version=1.5.0~rc.1\nchannel=canary\nwave=7\n" {
		t.Fatalf("request %q", req)
	}
	if got := old.desired(want(8, "v1.6.0", wire.ChannelCanary)); !strings.HasPrefix(got, "busy with") {
		t.Fatalf("a second version while one is under way: %q", got)
	}
	old.step() // no helper result yet: waits
	if len(r.events) != 0 {
		t.Fatalf("events while waiting: %v", r.events)
	}

	// The helper installed it; the new agent starts and is not yet healthy.
	r.now = r.now.Add(time.Minute)
	nu := r.start("v1.5.0-rc.1")
	r.health = updateHealth{Link: true, Uplink: true}
	nu.step()
	if r.file(UpdateHealthFile) != "" || len(r.events) != 0 || r.kicks != 1 {
		t.Fatalf("a verdict before the grace period ended: %q, %d events, %d kicks", r.file(UpdateHealthFile), len(r.events), r.kicks)
	}
	r.now = r.now.Add(30 * time.Second)
	r.health.Acked = true
	nu.step()
	if got := r.file(UpdateHealthFile); got != "healthy 1.5.0~rc.1\n" {
		t.Fatalf("verdict %q", got)
	}
	typ, d := r.lastEvent()
	if typ != wire.TypeUpdateApplied || d.From != "v1.4.0" || d.To != "v1.5.0-rc.1" || d.Wave != 7 {
		t.Fatalf("%s %+v", typ, d)
	}
	again := r.start("v1.5.0-rc.1")
	if again.rec.Pending != nil || again.rec.Previous != "v1.4.0" {
		t.Fatalf("record after the update: %+v", again.rec)
	}
	again.step()
	if len(r.events) != 1 {
		t.Fatalf("%d events after a restart, want the one", len(r.events))
	}
}

func TestUnhealthyVersionIsRolledBackAndNotRetried(t *testing.T) {
	r := newUpdateRig(t)
	old := r.start("v1.4.1")
	if got := old.desired(want(3, "v1.4.2", wire.ChannelStable)); got != "requested" {
		t.Fatal(got)
	}
	nu := r.start("v1.4.2")
	r.health = updateHealth{Uplink: true}
	for range 3 {
		r.now = r.now.Add(DefaultUpdateGrace / 2)
		nu.step()
	}
	got := r.file(UpdateHealthFile)
	if !strings.HasPrefix(got, "unhealthy 1.4.2 ") || !strings.Contains(got, "controller link lost") || !strings.Contains(got, "no event confirmed") {
		t.Fatalf("verdict %q", got)
	}
	if len(r.events) != 0 {
		t.Fatalf("the unhealthy version reported %v; the restored one does", r.events)
	}
	// The helper reinstalled v1.4.1, which reads the result.
	r.helper(helperRolledBack, "1.4.2", "the agent said: "+strings.TrimSpace(strings.TrimPrefix(got, "unhealthy 1.4.2"))+"\x07")
	back := r.start("v1.4.1")
	back.step()
	typ, d := r.lastEvent()
	if typ != wire.TypeUpdateRolledBack || d.From != "v1.4.1" || d.To != "v1.4.2" || d.Wave != 3 || !strings.Contains(d.Reason, "controller link lost") {
		t.Fatalf("%s %+v", typ, d)
	}
	if r.file(UpdateResultFile) != "" {
		t.Fatal("the helper's result stays after it was reported")
	}
	if got := back.desired(want(3, "v1.4.2", wire.ChannelStable)); got != "failed before: not tried again" {
		t.Fatalf("the rolled back version again: %q", got)
	}
	if got := back.desired(want(4, "v1.4.3", wire.ChannelStable)); got != "requested" {
		t.Fatalf("a fixed version: %q", got)
	}
}

func TestInstallFailureAndSilentHelperAreReported(t *testing.T) {
	r := newUpdateRig(t)
	u := r.start("v1.4.0")
	u.desired(want(2, "v1.9.0", wire.ChannelStable))
	r.helper(helperFailed, "1.8.0", "an older attempt's result")
	u.step()
	if len(r.events) != 0 {
		t.Fatal("another version's result was taken for this one")
	}
	r.helper(helperFailed, "1.9.0", "E: Version '1.9.0' for 'palier-agent' was not found")
	u.step()
	typ, d := r.lastEvent()
	if typ != wire.TypeUpdateFailed || d.To != "v1.9.0" || !strings.Contains(d.Reason, "was not found") {
		t.Fatalf("%s %+v", typ, d)
	}

	u.desired(want(3, "v1.9.1", wire.ChannelStable))
	r.now = r.now.Add(DefaultHelperTimeout + time.Second)
	u.step()
	typ, d = r.lastEvent()
	if typ != wire.TypeUpdateFailed || d.To != "v1.9.1" || !strings.Contains(d.Reason, "no answer from the update helper") {
		t.Fatalf("%s %+v", typ, d)
	}
	if r.file(UpdateRequestFile) != "" {
		t.Fatal("the unanswered request stays")
	}
	if u2 := r.start("v1.4.0"); !slices.Equal(u2.rec.Failed, []string{"v1.9.0", "v1.9.1"}) || u2.rec.Pending != nil {
		t.Fatalf("record %+v", u2.rec)
	}
}

func TestDebianVersion(t *testing.T) {
	for in, out := range map[string]string{
		"v1.4.0":             "1.4.0",
		"v1.4.1-rc.1":        "1.4.1~rc.1",
		"v1.4.0+3.gabc1234":  "1.4.0+3.gabc1234",
		"v0.0.0-dev+abc1234": "0.0.0~dev+abc1234",
	} {
		if got := DebianVersion(in); got != out {
			t.Errorf("DebianVersion(%q) = %q, want %q", in, got, out)
		}
	}
}

func TestCleanReason(t *testing.T) {
	long := strings.Repeat("é", 400)
	if got := []rune(cleanReason(long)); len(got) != wire.MaxUpdateReason {
		t.Errorf("%d characters kept, want %d", len(got), wire.MaxUpdateReason)
	}
	if got := cleanReason("a\x1b[31mb\n"); got != "a [31mb" {
		t.Errorf("%q", got)
	}
}
