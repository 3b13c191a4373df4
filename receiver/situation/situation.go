package situation

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
)

// Names of the situations, most urgent first.
const (
	Entrapment         = "entrapment"           // passengers may be trapped
	Alarm              = "alarm"                // the alarm button is pressed
	OutOfService       = "out_of_service"       // the controller says so
	Offline            = "offline"              // the agent is not connected (last will, or unheard)
	ControllerLinkLost = "controller_link_lost" // the agent cannot read the controller
	Silent             = "silent"               // connected, but no heartbeat for too long
	Backlog            = "backlog"              // the cabin's outbox holds too much, or too old
	Losses             = "losses"               // sequences were accounted for as lost lately
)

// Names lists every situation, most urgent first.
var Names = []string{Entrapment, Alarm, OutOfService, Offline, ControllerLinkLost, Silent, Backlog, Losses}

// Severities, for routing (Alertmanager's severity label).
const (
	Critical = "critical" // a person must act now
	Warning  = "warning"  // a person should look today
	Info     = "info"     // for the record
)

// Situation is one thing a cabin is in, since when.
type Situation struct {
	Name     string    `json:"name"`
	Severity string    `json:"severity"`
	Since    time.Time `json:"since"`
	Detail   string    `json:"detail,omitempty"`
	// Acknowledged is set on an alarm or entrapment an operator
	// acknowledged (store.Alarm).
	Acknowledged *Acknowledgement `json:"acknowledged,omitempty"`
}

// Acknowledgement is who acknowledged an alarm or entrapment, and when.
type Acknowledgement struct {
	By      string    `json:"by"`
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at"`
}

// acknowledge marks the alarm and entrapment situations that an open,
// acknowledged alarm of their kind stands for.
func acknowledge(ss []Situation, open []store.Alarm) {
	for i := range ss {
		kind := map[string]string{Alarm: store.AlarmKindAlarm, Entrapment: store.AlarmKindEntrapment}[ss[i].Name]
		if kind == "" {
			continue
		}
		for _, a := range open {
			if a.Kind == kind && a.Closed.IsZero() && !a.Acked.IsZero() {
				ss[i].Acknowledged = &Acknowledgement{By: a.AckedBy, Message: a.AckMessage, At: a.Acked.UTC()}
				break
			}
		}
	}
}

// Thresholds say when a quiet or queuing cabin becomes a situation.
type Thresholds struct {
	// StaleAfter: online by its last word, but unheard for this long, is
	// offline (its will was lost); default 3 minutes.
	StaleAfter time.Duration
	// SilentAfter: no heartbeat or health event for this long; default 15
	// minutes.
	SilentAfter time.Duration
	// BacklogDepth and BacklogAge: an outbox this deep, or whose oldest
	// entry is this old, is a backlog; defaults 1000 and 10 minutes.
	BacklogDepth uint64
	BacklogAge   time.Duration
	// LossesFor is how long a loss stays a situation; default 24 hours.
	LossesFor time.Duration
}

// withDefaults fills the zero fields.
func (th Thresholds) withDefaults() Thresholds {
	if th.StaleAfter <= 0 {
		th.StaleAfter = 3 * time.Minute
	}
	if th.SilentAfter <= 0 {
		th.SilentAfter = 15 * time.Minute
	}
	if th.BacklogDepth == 0 {
		th.BacklogDepth = 1000
	}
	if th.BacklogAge <= 0 {
		th.BacklogAge = 10 * time.Minute
	}
	if th.LossesFor <= 0 {
		th.LossesFor = 24 * time.Hour
	}
	return th
}

// Derive returns the situations of cabin c, whose facts are given (any
// order, other cabins' ignored), at now, most urgent first. A cabin with
// none is in service and heard from.
func Derive(c store.Cabin, facts []store.Fact, now time.Time, th Thresholds) []Situation {
	th = th.withDefaults()
	f := map[string]store.Fact{}
	for _, x := range facts {
		if x.Site == c.Site && x.Cabin == c.Cabin {
			f[x.Name] = x
		}
	}
	var out []Situation
	add := func(name, sev string, since time.Time, detail string) {
		out = append(out, Situation{Name: name, Severity: sev, Since: since.UTC(), Detail: detail})
	}
	if x, ok := f[store.FactEntrapment]; ok && x.Value == "true" {
		add(Entrapment, Critical, x.Since, "")
	}
	if x, ok := f[store.FactAlarm]; ok && x.Value == "true" {
		add(Alarm, Critical, x.Since, "")
	}
	if x, ok := f[store.FactInService]; ok && x.Value == "false" {
		add(OutOfService, Warning, x.Since, "")
	}
	online := c.Online && now.Sub(c.LastSeen) <= th.StaleAfter
	switch {
	case !c.Online:
		since := c.StatusTime
		if since.IsZero() { // never said online or offline: since it was last heard of
			since = c.LastSeen
		}
		add(Offline, Warning, since, "the agent is disconnected")
	case !online:
		add(Offline, Warning, c.LastSeen, fmt.Sprintf("unheard since %s: its last will may be lost", c.LastSeen.UTC().Format(time.RFC3339)))
	}
	if x, ok := f[store.FactLink]; ok && x.Value == "lost" {
		add(ControllerLinkLost, Warning, x.Since, "")
	}
	if x, ok := f[store.FactHeartbeat]; online && ok && now.Sub(x.At) > th.SilentAfter {
		add(Silent, Warning, x.At, fmt.Sprintf("no heartbeat for %s", now.Sub(x.At).Round(time.Minute)))
	}
	depth, okD := f[store.FactOutboxDepth]
	age, okA := f[store.FactOldestAge]
	if okD || okA {
		d, _ := strconv.ParseUint(depth.Value, 10, 64)
		a, _ := strconv.ParseFloat(age.Value, 64)
		if d >= th.BacklogDepth || time.Duration(a*float64(time.Second)) >= th.BacklogAge {
			add(Backlog, Info, later(depth.At, age.At), fmt.Sprintf("%d events queued, the oldest %s old", d, (time.Duration(a)*time.Second).Round(time.Second)))
		}
	}
	if x, ok := f[store.FactLoss]; ok && now.Sub(x.At) <= th.LossesFor {
		add(Losses, Info, x.At, x.Value+" sequences accounted for as lost (see the cabin's epochs)")
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Source is what Fleet and Cabin read: the store.
type Source interface {
	Cabins(ctx context.Context) ([]store.Cabin, error)
	Cabin(ctx context.Context, site, cabin string) (store.Cabin, error)
	Facts(ctx context.Context, site, cabin string) ([]store.Fact, error)
	Alarms(ctx context.Context, site, cabin string, open bool, limit int) ([]store.Alarm, error)
}

// maxOpenAlarms bounds the open alarms read at once: far more than a
// fleet has on its worst day.
const maxOpenAlarms = 100_000

// Cabin reads one cabin, its facts and open alarms, and derives its
// situations at now.
func Cabin(ctx context.Context, src Source, site, cabin string, now time.Time, th Thresholds) (store.Cabin, []Situation, error) {
	c, err := src.Cabin(ctx, site, cabin)
	if err != nil {
		return c, nil, fmt.Errorf("read cabin %s/%s: %w", site, cabin, err)
	}
	facts, err := src.Facts(ctx, site, cabin)
	if err != nil {
		return c, nil, fmt.Errorf("read facts of %s/%s: %w", site, cabin, err)
	}
	open, err := src.Alarms(ctx, site, cabin, true, maxOpenAlarms)
	if err != nil {
		return c, nil, fmt.Errorf("read open alarms of %s/%s: %w", site, cabin, err)
	}
	ss := Derive(c, facts, now, th)
	acknowledge(ss, open)
	return c, ss, nil
}

// Fleet reads every cabin and every fact from src, and derives each
// cabin's situations at now: situations[i] are cabins[i]'s.
func Fleet(ctx context.Context, src Source, now time.Time, th Thresholds) (cabins []store.Cabin, situations [][]Situation, err error) {
	if cabins, err = src.Cabins(ctx); err != nil {
		return nil, nil, fmt.Errorf("read cabins: %w", err)
	}
	facts, err := src.Facts(ctx, "", "")
	if err != nil {
		return nil, nil, fmt.Errorf("read facts: %w", err)
	}
	open, err := src.Alarms(ctx, "", "", true, maxOpenAlarms)
	if err != nil {
		return nil, nil, fmt.Errorf("read open alarms: %w", err)
	}
	byCabin := map[[2]string][]store.Fact{}
	for _, f := range facts {
		k := [2]string{f.Site, f.Cabin}
		byCabin[k] = append(byCabin[k], f)
	}
	openOf := map[[2]string][]store.Alarm{}
	for _, a := range open {
		k := [2]string{a.Site, a.Cabin}
		openOf[k] = append(openOf[k], a)
	}
	situations = make([][]Situation, len(cabins))
	for i, c := range cabins {
		k := [2]string{c.Site, c.Cabin}
		situations[i] = Derive(c, byCabin[k], now, th)
		acknowledge(situations[i], openOf[k])
	}
	return cabins, situations, nil
}
