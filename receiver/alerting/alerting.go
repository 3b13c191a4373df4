package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/palier-lifts/palier/receiver/situation"
	"github.com/palier-lifts/palier/receiver/store"
)

// AlertNames are the situations that page someone, and their alertname.
// Backlog and losses are for the dashboard and the platform's own rules.
var AlertNames = map[string]string{
	situation.Entrapment:         "ElevatorEntrapment",
	situation.Alarm:              "ElevatorAlarm",
	situation.OutOfService:       "ElevatorOutOfService",
	situation.Offline:            "ElevatorOffline",
	situation.ControllerLinkLost: "ElevatorControllerLinkLost",
	situation.Silent:             "ElevatorSilent",
}

// Source is what the alerter reads: the store.
type Source = situation.Source

// Options configure an Alerter.
type Options struct {
	// URLs are the Alertmanagers' base URLs (http://am:9093); each gets
	// every alert (an HA pair dedups them, as from Prometheus).
	URLs []string
	// Interval is how often situations are evaluated and active alerts
	// sent again; default 15s. An alert not sent again within four
	// intervals resolves itself in Alertmanager (a receiver that died).
	Interval time.Duration
	// PublicURL starts the link to a cabin's page in each alert.
	PublicURL string
	// Thresholds of the situations.
	Thresholds situation.Thresholds
	Clock      func() time.Time // default time.Now
	Logger     *slog.Logger
	// OnSent, if set, hears how each post went (for metrics).
	OnSent func(url string, alerts int, err error)
}

// Alert is a postable alert of Alertmanager's v2 API.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Alerter evaluates situations and sends alerts.
type Alerter struct {
	src    Source
	o      Options
	client *http.Client

	mu     sync.Mutex
	active map[string]Alert // by label set: what was firing at the last round
}

// New makes an Alerter.
func New(src Source, o Options) *Alerter {
	if o.Interval <= 0 {
		o.Interval = 15 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Alerter{src: src, o: o, client: &http.Client{Timeout: 10 * time.Second}, active: map[string]Alert{}}
}

// Run evaluates and sends every Interval until ctx is done.
func (a *Alerter) Run(ctx context.Context) error {
	t := time.NewTicker(a.o.Interval)
	defer t.Stop()
	for {
		if err := a.Round(ctx); err != nil && ctx.Err() == nil {
			a.o.Logger.Warn("alerting round", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Round evaluates every cabin's situations once and sends the alerts:
// those active (again), and those that cleared since the last round
// (resolved).
func (a *Alerter) Round(ctx context.Context) error {
	now := a.o.Clock()
	cabins, situations, err := situation.Fleet(ctx, a.src, now, a.o.Thresholds)
	if err != nil {
		return err
	}
	current := map[string]Alert{}
	for i, c := range cabins {
		for _, s := range situations[i] {
			name, ok := AlertNames[s.Name]
			if !ok {
				continue
			}
			al := a.alert(c, s, name)
			// Active until told again: if no receiver sends it within
			// four rounds, it resolves itself.
			al.EndsAt = now.Add(4 * a.o.Interval)
			current[key(al.Labels)] = al
		}
	}
	a.mu.Lock()
	send := make([]Alert, 0, len(current))
	for k, al := range a.active {
		if _, still := current[k]; !still {
			al.EndsAt = now // cleared: resolved now
			send = append(send, al)
		}
	}
	for _, al := range current {
		send = append(send, al)
	}
	a.active = current
	a.mu.Unlock()
	if len(send) == 0 {
		return nil
	}
	var errs []string
	for _, u := range a.o.URLs {
		err := a.post(ctx, u, send)
		if a.o.OnSent != nil {
			a.o.OnSent(u, len(send), err)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) == len(a.o.URLs) {
		return fmt.Errorf("no Alertmanager took the alerts: %s", strings.Join(errs, "; "))
	}
	return nil
}

// alert builds the alert of one situation of cabin c.
func (a *Alerter) alert(c store.Cabin, s situation.Situation, name string) Alert {
	link := ""
	if a.o.PublicURL != "" {
		link = strings.TrimRight(a.o.PublicURL, "/") + "/#/cabin/" + c.Site + "/" + c.Cabin // the operators' page; ids are [a-z0-9-]
	}
	floor := "unknown"
	if c.Floor != nil {
		floor = strconv.Itoa(*c.Floor)
	}
	ann := map[string]string{
		"summary":  summary(s.Name, c),
		"building": c.Site,
		"floor":    floor,
		"since":    s.Since.Format(time.RFC3339),
	}
	if s.Detail != "" {
		ann["description"] = s.Detail
	}
	if link != "" {
		ann["url"] = link
	}
	// The alert keeps firing until the cabin clears it; the others on
	// call see that someone has it.
	if ack := s.Acknowledged; ack != nil {
		ann["acknowledged"] = fmt.Sprintf("by %s at %s", ack.By, ack.At.Format(time.RFC3339))
		if ack.Message != "" {
			ann["acknowledged"] += ": " + ack.Message
		}
	}
	return Alert{
		Labels:       map[string]string{"alertname": name, "site": c.Site, "cabin": c.Cabin, "severity": s.Severity},
		Annotations:  ann,
		StartsAt:     s.Since,
		GeneratorURL: link,
	}
}

func summary(name string, c store.Cabin) string {
	where := "cabin " + c.Cabin + " of " + c.Site
	switch name {
	case situation.Entrapment:
		return "Passengers may be trapped in " + where
	case situation.Alarm:
		return "The alarm button is pressed in " + where
	case situation.OutOfService:
		return where + " is out of service"
	case situation.Offline:
		return where + " is offline"
	case situation.ControllerLinkLost:
		return "The agent of " + where + " cannot read its controller"
	case situation.Silent:
		return where + " sends no heartbeat"
	}
	return name + ": " + where
}

// key identifies an alert by its labels, as Alertmanager does.
func key(labels map[string]string) string {
	return labels["alertname"] + "\x00" + labels["site"] + "\x00" + labels["cabin"] + "\x00" + labels["severity"]
}

// post sends alerts to one Alertmanager.
func (a *Alerter) post(ctx context.Context, base string, alerts []Alert) error {
	b, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v2/alerts", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("alertmanager %s: %w", base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("alertmanager %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alertmanager %s: %s", base, resp.Status)
	}
	return nil
}
