package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/buildinfo"
	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/wire"
)

// Files of an update in the state folder. The agent runs unprivileged: it
// only writes a request, and the privileged helper
// (packaging/update/palier-agent-update, started by palier-agent-update.path
// when the request appears) installs exactly that version of palier-agent
// with apt, waits for the new agent's verdict on its own health, and
// reinstalls the previous version when the verdict is bad or never comes.
const (
	// UpdateRecordFile is the agent's own record of an attempt under way,
	// the version before the last one applied and the versions that failed.
	UpdateRecordFile = "update.json"
	// UpdateRequestFile asks the helper to install a version (agent → helper).
	UpdateRequestFile = "update-request"
	// UpdateHealthFile is the new agent's verdict on itself (agent → helper).
	UpdateHealthFile = "update-health"
	// UpdateResultFile is what the helper did (helper → agent).
	UpdateResultFile = "update-result"
)

// Timing of an update.
const (
	// DefaultUpdateGrace is how long a newly installed agent has to find
	// itself healthy (controller link, uplink, an end-to-end ack) before it
	// tells the helper to roll back. The helper waits longer
	// (PALIER_UPDATE_TIMEOUT, 300 s) for a verdict, so an agent that cannot
	// even start is rolled back too.
	DefaultUpdateGrace = 2 * time.Minute
	// DefaultHelperTimeout is how long the agent waits for the helper's
	// result before it gives up on an attempt (no helper installed or
	// enabled, or one that died).
	DefaultHelperTimeout = 30 * time.Minute
	// maxFailedVersions bounds the versions remembered as failed.
	maxFailedVersions = 16
)

// Update statuses the helper writes (status= in UpdateResultFile).
const (
	helperInstalled  = "installed"
	helperFailed     = "failed"
	helperRolledBack = "rolled_back"
)

// updateRecord is UpdateRecordFile.
type updateRecord struct {
	// Pending is the attempt under way, if any.
	Pending *updateAttempt `json:"pending,omitempty"`
	// Previous is the version the agent ran before the last applied
	// update: where a rollback goes.
	Previous string `json:"previous,omitempty"`
	// Failed are versions that failed or were rolled back, newest last:
	// never tried again while they stay the desired version.
	Failed []string `json:"failed,omitempty"`
}

type updateAttempt struct {
	From    string    `json:"from"`
	To      string    `json:"to"`
	Channel string    `json:"channel"`
	Wave    uint64    `json:"wave"`
	At      time.Time `json:"at"` // when the request was written
}

// updateHealth is what the new agent checks of itself after an update.
type updateHealth struct {
	Link   bool // the controller answers
	Uplink bool // the MQTT session is up
	Acked  bool // the receiver confirmed an event sent by this process
}

func (h updateHealth) ok() bool { return h.Link && h.Uplink && h.Acked }

// missing names what is not healthy, for the operator.
func (h updateHealth) missing() string {
	var m []string
	if !h.Link {
		m = append(m, "controller link lost")
	}
	if !h.Uplink {
		m = append(m, "uplink not connected")
	}
	if !h.Acked {
		m = append(m, "no event confirmed by the receiver")
	}
	return strings.Join(m, ", ")
}

// updater decides what to do with the desired version and follows an
// attempt across the restart. Its files are its only state: the agent that
// writes a request is not the one that checks the result.
type updater struct {
	dir    string
	own    string // this build's version
	logger *slog.Logger
	now    func() time.Time
	// grace and helperTimeout: DefaultUpdateGrace, DefaultHelperTimeout.
	grace, helperTimeout time.Duration
	started              time.Time
	// probe says how the agent is doing now.
	probe func() updateHealth
	// emit records an update_* event.
	emit func(typ string, d wire.UpdateData)
	// kick, once the new version starts checking itself, gives the
	// receiver something to confirm (a health event).
	kick func()

	mu      sync.Mutex
	rec     updateRecord
	verdict bool // a health verdict was written by this process
	// pending and wantHealth are what the poll loop records next
	// (recordUpdates): only it appends to the outbox, which reads the
	// state machine's counters.
	pending    []wire.Event
	wantHealth bool
}

func newUpdater(dir, own string, logger *slog.Logger) *updater {
	u := &updater{dir: dir, own: own, logger: logger, now: time.Now, grace: DefaultUpdateGrace, helperTimeout: DefaultHelperTimeout}
	u.started = u.now()
	b, err := os.ReadFile(u.path(UpdateRecordFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		logger.Error("update record unreadable; starting without", "err", err)
	default:
		if err := json.Unmarshal(b, &u.rec); err != nil {
			logger.Error("update record damaged; starting without", "file", u.path(UpdateRecordFile), "err", err)
			u.rec = updateRecord{}
		}
	}
	return u
}

func (u *updater) path(name string) string { return filepath.Join(u.dir, name) }

func (u *updater) save() error {
	b, err := json.Marshal(u.rec)
	if err != nil {
		return fmt.Errorf("encode update record: %w", err)
	}
	if err := atomicfile.Write(u.path(UpdateRecordFile), b, 0o640); err != nil {
		return fmt.Errorf("save update record: %w", err)
	}
	return nil
}

// DebianVersion is the palier-agent package version of an agent version,
// as scripts/package.sh (nfpm) makes it: no leading v, and a SemVer
// pre-release after ~ so that it sorts before its release.
func DebianVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	return strings.Replace(v, "-", "~", 1)
}

// desired is told the version the receiver wants this cabin to run, and
// writes a request for the helper when that is another version than its
// own. It says what it decided, for the log and the tests.
func (u *updater) desired(d wire.Update) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case d.Version == u.own:
		return "running it"
	case u.rec.Pending != nil:
		return fmt.Sprintf("busy with %s to %s", u.rec.Pending.From, u.rec.Pending.To)
	case slices.Contains(u.rec.Failed, d.Version):
		return "failed before: not tried again"
	}
	u.rec.Pending = &updateAttempt{From: u.own, To: d.Version, Channel: d.Channel, Wave: d.Wave, At: u.now().UTC()}
	// The record first: the agent that starts after the install must
	// know what it is checking.
	err := u.save()
	if err == nil {
		_ = os.Remove(u.path(UpdateHealthFile))
		_ = os.Remove(u.path(UpdateResultFile))
		req := fmt.Sprintf("version=%s\nchannel=%s\nwave=%d\n", DebianVersion(d.Version), d.Channel, d.Wave)
		err = atomicfile.Write(u.path(UpdateRequestFile), []byte(req), 0o640)
	}
	if err != nil {
		u.logger.Error("cannot request the update", "to", d.Version, "err", err)
		u.rec.Pending = nil
		if serr := u.save(); serr != nil {
			u.logger.Error("cannot clear the update record", "err", serr)
		}
		return "request failed: " + err.Error()
	}
	u.logger.Info("update requested from the helper", "from", u.own, "to", d.Version, "channel", d.Channel, "wave", d.Wave)
	return "requested"
}

// step follows the attempt under way once; run calls it every second.
func (u *updater) step() {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.rec.Pending
	if p == nil {
		return
	}
	switch u.own {
	case p.To:
		u.checkHealth(p)
	case p.From:
		u.waitForHelper(p)
	default:
		// Neither: someone installed another version by hand.
		u.logger.Warn("dropping the update under way: this agent is neither its old nor its new version", "from", p.From, "to", p.To, "running", u.own)
		u.finish(nil)
	}
}

// checkHealth runs in the new version: healthy within the grace period
// means applied; otherwise the helper is told to roll back.
func (u *updater) checkHealth(p *updateAttempt) {
	if u.verdict {
		return
	}
	if u.kick != nil {
		u.kick()
		u.kick = nil
	}
	h := u.probe()
	if h.ok() {
		u.writeVerdict("healthy " + DebianVersion(p.To))
		u.verdict = true
		u.emit(wire.TypeUpdateApplied, wire.UpdateData{From: p.From, To: p.To, Wave: p.Wave})
		u.logger.Info("update applied and healthy", "from", p.From, "to", p.To, "wave", p.Wave)
		u.rec.Previous = p.From
		u.finish(nil)
		return
	}
	if u.now().Sub(u.started) < u.grace {
		return
	}
	reason := fmt.Sprintf("after %s: %s", u.grace, h.missing())
	u.logger.Error("the new version is unhealthy: asking the helper to roll back", "to", p.To, "back_to", p.From, "reason", reason)
	u.writeVerdict("unhealthy " + DebianVersion(p.To) + " " + reason)
	u.verdict = true
	// The record stays: the previous version reports the rollback.
}

func (u *updater) writeVerdict(line string) {
	if err := atomicfile.Write(u.path(UpdateHealthFile), []byte(line+"\n"), 0o640); err != nil {
		u.logger.Error("cannot tell the helper the health verdict", "err", err)
	}
}

// waitForHelper runs in the old version: the helper's result says whether
// the install failed or was rolled back (an install that worked restarts
// the agent into the new version instead).
func (u *updater) waitForHelper(p *updateAttempt) {
	res, err := readHelperResult(u.path(UpdateResultFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			u.logger.Error("helper result unreadable", "err", err)
		}
		if u.now().Sub(p.At) > u.helperTimeout {
			reason := fmt.Sprintf("no answer from the update helper within %s (is palier-agent-update.path enabled?)", u.helperTimeout)
			_ = os.Remove(u.path(UpdateRequestFile))
			u.emit(wire.TypeUpdateFailed, wire.UpdateData{From: p.From, To: p.To, Wave: p.Wave, Reason: reason})
			u.logger.Error("update failed", "to", p.To, "reason", reason)
			u.finish(&p.To)
		}
		return
	}
	if res["version"] != DebianVersion(p.To) {
		return // an older attempt's result: the helper has not answered this one yet
	}
	reason := cleanReason(res["reason"])
	if reason == "" {
		reason = "no reason given by the helper"
	}
	switch res["status"] {
	case helperFailed:
		u.emit(wire.TypeUpdateFailed, wire.UpdateData{From: p.From, To: p.To, Wave: p.Wave, Reason: reason})
		u.logger.Error("update failed", "to", p.To, "reason", reason)
	case helperRolledBack:
		u.emit(wire.TypeUpdateRolledBack, wire.UpdateData{From: p.From, To: p.To, Wave: p.Wave, Reason: reason})
		u.logger.Error("update rolled back", "to", p.To, "back_to", p.From, "reason", reason)
	default:
		// installed: the restart into the new version is on its way.
		return
	}
	_ = os.Remove(u.path(UpdateResultFile))
	u.finish(&p.To)
}

// finish ends the attempt, remembering a failed version.
func (u *updater) finish(failed *string) {
	u.rec.Pending = nil
	if failed != nil && !slices.Contains(u.rec.Failed, *failed) {
		u.rec.Failed = append(u.rec.Failed, *failed)
		if len(u.rec.Failed) > maxFailedVersions {
			u.rec.Failed = u.rec.Failed[len(u.rec.Failed)-maxFailedVersions:]
		}
	}
	if err := u.save(); err != nil {
		u.logger.Error("cannot save the update record", "err", err)
	}
}

// run follows the attempt under way until ctx ends.
func (u *updater) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		u.step()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cleanReason makes the helper's words fit an event's reason: no control
// characters, at most wire.MaxUpdateReason characters.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > wire.MaxUpdateReason {
		s = string(r[:wire.MaxUpdateReason-1]) + "…"
	}
	return strings.TrimSpace(s)
}

// readHelperResult reads UpdateResultFile: key=value lines.
func readHelperResult(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	res := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			res[k] = v
		}
	}
	if res["status"] == "" || res["version"] == "" {
		return nil, fmt.Errorf("%s: no status= or version= line", path)
	}
	return res, nil
}

// queue keeps an update event for the poll loop; called with u.mu held.
func (u *updater) queue(typ string, d wire.UpdateData) {
	ev, err := wire.NewEvent(u.now(), typ, d)
	if err != nil {
		u.logger.Error("encode update event", "type", typ, "err", err)
		return
	}
	u.pending = append(u.pending, ev)
}

// take returns the update events to record and whether to record a
// health event.
func (u *updater) take() ([]wire.Event, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	evs, health := u.pending, u.wantHealth
	u.pending, u.wantHealth = nil, false
	return evs, health
}

// setupUpdates wires the updater into the agent: its events and health
// requests go through the poll loop (recordUpdates). A starting agent says
// at once which version runs: after an update or a rollback the receiver
// would otherwise know only at the next heartbeat.
func (a *Agent) setupUpdates() {
	u := newUpdater(a.cfg.StateDir, buildinfo.Version(), a.logger.With("component", "update"))
	u.probe = a.updateHealth
	u.emit = u.queue
	u.kick = func() { u.wantHealth = true }
	u.wantHealth = true
	a.upd = u
	a.up.OnUpdate = a.desiredVersion
}

// recordUpdates records, from the poll loop, what the updater asked for.
func (a *Agent) recordUpdates(ctx context.Context) {
	evs, health := a.upd.take()
	if health {
		a.appendHealth(ctx)
	}
	a.emit(ctx, evs)
}

// updateHealth is what a newly installed agent checks of itself.
func (a *Agent) updateHealth() updateHealth {
	a.mu.Lock()
	link := a.state.Link == sensors.LinkStateOK
	a.mu.Unlock()
	st := a.up.Stats()
	return updateHealth{Link: link, Uplink: st.Connected, Acked: st.Acks > 0}
}

// desiredVersion is the uplink's OnUpdate: it must not block, and writing
// two small files does not.
func (a *Agent) desiredVersion(d wire.Update) {
	a.logger.Info("desired agent version", "version", d.Version, "wave", d.Wave, "decision", a.upd.desired(d))
}

// UpdateStatus is what a state folder says of updates, for
// `palier-agent update status`.
type UpdateStatus struct {
	// Pending is the attempt under way ("" when none): from, to, wave.
	Pending                  string
	Previous                 string   // the version before the last applied update
	Failed                   []string // versions not tried again while desired
	Request, Health, Result  string   // the files as they are ("" when absent)
	RecordErr, ResultErr     error
	PendingSince, RequestAge time.Duration
}

// ReadUpdateStatus reads the update files of a state folder.
func ReadUpdateStatus(dir string, now time.Time) UpdateStatus {
	var st UpdateStatus
	var rec updateRecord
	if b, err := os.ReadFile(filepath.Join(dir, UpdateRecordFile)); err == nil {
		st.RecordErr = json.Unmarshal(b, &rec)
	} else if !errors.Is(err, os.ErrNotExist) {
		st.RecordErr = err
	}
	if p := rec.Pending; p != nil {
		st.Pending = fmt.Sprintf("%s to %s (channel %s, wave %d)", p.From, p.To, p.Channel, p.Wave)
		st.PendingSince = now.Sub(p.At).Round(time.Second)
	}
	st.Previous, st.Failed = rec.Previous, rec.Failed
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(cleanFile(b))
	}
	st.Request, st.Health, st.Result = read(UpdateRequestFile), read(UpdateHealthFile), read(UpdateResultFile)
	if fi, err := os.Stat(filepath.Join(dir, UpdateRequestFile)); err == nil {
		st.RequestAge = now.Sub(fi.ModTime()).Round(time.Second)
	}
	return st
}

// cleanFile keeps the lines of a small file printable.
func cleanFile(b []byte) string {
	if len(b) > 1024 {
		b = b[:1024]
	}
	return strings.Map(func(r rune) rune {
		if r != '\n' && (unicode.IsControl(r) || r == utf8.RuneError) {
			return ' '
		}
		return r
	}, string(b))
}
