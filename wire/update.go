package wire

import (
	"fmt"
	"regexp"
	"time"
)

// Update is the agent version the receiver wants a cabin to run, set by a
// rollout wave. The receiver publishes it retained on the cabin's update
// topic (UpdateTopic), so that an agent that reconnects still gets it; the
// agent installs Version from the apt suite Channel through its privileged
// helper when it runs another version (docs/PACKAGING.md, "Agent updates").
type Update struct {
	V     int    `json:"v"`
	Site  string `json:"site"`
	Cabin string `json:"cabin"`
	// Version is the agent's build version as buildinfo stamps it: SemVer
	// with a leading v (v1.4.0, v1.4.1-rc.1, v1.4.0+3.gabc1234).
	Version string `json:"version"`
	// Channel is the apt suite the version comes from (UpdateChannels).
	Channel string `json:"channel"`
	// Wave is the rollout wave that asked for it, echoed in the agent's
	// update_* events so the receiver counts them to the right wave.
	Wave uint64    `json:"wave"`
	At   time.Time `json:"at"`
}

// Update channels: apt suites of the Palier repository.
const (
	ChannelStable = "stable"
	ChannelCanary = "canary"
)

// UpdateChannels are the channels a wave may use.
var UpdateChannels = []string{ChannelStable, ChannelCanary}

// Bounds of an update message.
const (
	MaxUpdateBytes  = 1 << 10
	MaxUpdateReason = 280 // characters of an update event's reason
)

// semverRe is SemVer 2.0.0 with the leading v that git tags and
// buildinfo carry.
var semverRe = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// ValidateVersion checks an agent version: SemVer with a leading v, at
// most MaxVersionLen characters.
func ValidateVersion(v string) error {
	if v == "" {
		return fmt.Errorf("is empty (want a version such as v1.4.0)")
	}
	if len(v) > MaxVersionLen {
		return fmt.Errorf("%d characters (at most %d)", len(v), MaxVersionLen)
	}
	if !semverRe.MatchString(v) {
		return fmt.Errorf("%q is not vMAJOR.MINOR.PATCH[-pre][+build]", v)
	}
	return nil
}

// DecodeUpdate decodes and validates an update message.
func DecodeUpdate(b []byte) (Update, error) {
	var u Update
	if len(b) > MaxUpdateBytes {
		return u, fmt.Errorf("update of %d bytes: %w", len(b), ErrTooLarge)
	}
	if err := checkEnvelope(b); err != nil {
		return u, err
	}
	if err := decodeStrict(b, &u); err != nil {
		return Update{}, err
	}
	if err := u.Validate(); err != nil {
		return Update{}, err
	}
	return u, nil
}

// Validate checks an update message, naming the first wrong field.
func (u *Update) Validate() error {
	if u.V != Version {
		return fieldErr("v", "%d (want %d)", u.V, Version)
	}
	if err := ValidateID(u.Site); err != nil {
		return fieldErr("site", "%v", err)
	}
	if err := ValidateID(u.Cabin); err != nil {
		return fieldErr("cabin", "%v", err)
	}
	if err := ValidateVersion(u.Version); err != nil {
		return fieldErr("version", "%v", err)
	}
	if err := ValidateChannel(u.Channel); err != nil {
		return fieldErr("channel", "%v", err)
	}
	if u.Wave == 0 {
		return fieldErr("wave", "0 (waves are numbered from 1)")
	}
	if u.At.IsZero() {
		return fieldErr("at", "missing")
	}
	return nil
}

// ValidateChannel checks an update channel.
func ValidateChannel(c string) error {
	for _, ok := range UpdateChannels {
		if c == ok {
			return nil
		}
	}
	return fmt.Errorf("%q (want %q or %q)", c, ChannelStable, ChannelCanary)
}

// UpdateData is the data of the update_applied, update_failed and
// update_rolled_back events: the agent's attempt to go from one version to
// another for a wave. After update_applied the cabin runs To; after
// update_failed or update_rolled_back it runs From again.
type UpdateData struct {
	From string `json:"from"`
	To   string `json:"to"`
	Wave uint64 `json:"wave,omitempty"`
	// Reason says why it failed or was rolled back, in words for the operator.
	Reason string `json:"reason,omitempty"`
}

func (d *UpdateData) check(uint64, bool) error {
	// From is what the agent ran; an unstamped build says "dev".
	if d.From != "dev" {
		if err := ValidateVersion(d.From); err != nil {
			return fieldErr("from", "%v", err)
		}
	}
	if err := ValidateVersion(d.To); err != nil {
		return fieldErr("to", "%v", err)
	}
	if err := CheckPersonText(d.Reason, MaxUpdateReason); err != nil {
		return fieldErr("reason", "%v", err)
	}
	return nil
}

// UpdateSubject is the NATS subject of a cabin's update topic.
func UpdateSubject(site, cabin string) string {
	return "palier.v1." + site + "." + cabin + ".update"
}

// UpdateTopic is the MQTT topic of the version a cabin should run.
func UpdateTopic(site, cabin string) string {
	return "palier/v1/" + site + "/" + cabin + "/update"
}
