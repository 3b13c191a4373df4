package wire

import (
	"fmt"
	"strings"
	"time"
)

// MaxIDLen bounds site and cabin ids; they become parts of MQTT topics, NATS
// subjects and client ids.
const MaxIDLen = 64

// ValidateID checks a site or cabin id. NATS maps MQTT's "/" to "." and
// rejects whitespace, so ids are limited to [a-z0-9-]+.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("is empty (want lower-case letters, digits and '-')")
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%q is %d characters long (at most %d)", id, len(id), MaxIDLen)
	}
	for i, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("%q has %q at position %d (want lower-case letters, digits and '-')", id, r, i)
		}
	}
	return nil
}

// Topics are the MQTT topics of one cabin (DESIGN.md, "Topics and subjects").
type Topics struct {
	Events string // palier/v1/{site}/{cabin}/events: event batches, QoS 1
	State  string // palier/v1/{site}/{cabin}/state: retained state snapshot
	Status string // palier/v1/{site}/{cabin}/status: retained online/offline
	Ack    string // palier/v1/{site}/{cabin}/ack: end-to-end acknowledgements (downlink)
	// AlarmAck is palier/v1/{site}/{cabin}/alarm_ack: operators'
	// acknowledgements of the cabin's alarm (downlink, retained).
	AlarmAck string
	Notices  string // palier/v1/{site}/notices: the building's notices (downlink, retained)
	// Config is palier/v1/{site}/{cabin}/config and SiteConfig
	// palier/v1/{site}/config: the desired configuration of the cabin and
	// of its site (DesiredConfig; downlink, retained).
	Config     string
	SiteConfig string
	// Update is palier/v1/{site}/{cabin}/update: the agent version the
	// cabin should run (downlink, retained; Update).
	Update string
	// Credential is palier/v1/{site}/{cabin}/credential: a new credential
	// (downlink, QoS 1, never retained).
	Credential string
}

// TopicsFor returns the topics of a cabin. The ids must have passed ValidateID.
func TopicsFor(site, cabin string) Topics {
	base := "palier/v1/" + site + "/" + cabin + "/"
	return Topics{
		Events:     base + "events",
		State:      base + "state",
		Status:     base + "status",
		Ack:        base + "ack",
		AlarmAck:   AlarmAckTopic(site, cabin),
		Notices:    NoticesTopic(site),
		Config:     ConfigTopic(site, cabin),
		SiteConfig: SiteConfigTopic(site),
		Update:     UpdateTopic(site, cabin),
		Credential: CredentialTopic(site, cabin),
	}
}

// Downlinks are the topics an agent subscribes to, each at QoS 1: on a
// NATS broker, one JetStream consumer each for as long as the session
// lasts, which is what bounds the cabins a broker's consumer limit admits.
func (t Topics) Downlinks() []string {
	return []string{t.Ack, t.AlarmAck, t.Notices, t.Update, t.Credential, t.SiteConfig, t.Config}
}

// NATS subject filters that capture every cabin's events, state snapshots
// and status messages.
const (
	EventsSubject = "palier.v1.*.*.events"
	StateSubject  = "palier.v1.*.*.state"
	StatusSubject = "palier.v1.*.*.status"
)

// DeadLetterPrefix starts the subjects of the receiver's dead-letter
// stream: palier.deadletter.{site}.{cabin}.
const DeadLetterPrefix = "palier.deadletter."

// DeadLetterSubject is the dead-letter subject of a cabin's messages.
func DeadLetterSubject(site, cabin string) string { return DeadLetterPrefix + site + "." + cabin }

// DeviceSubjects are the NATS subjects a cabin publishes on: its events,
// state and status (never its acks: those are the receiver's to speak).
func DeviceSubjects(site, cabin string) []string {
	base := "palier.v1." + site + "." + cabin + "."
	return []string{base + "events", base + "state", base + "status"}
}

// NoticesTopic is the MQTT topic of a site's notices.
func NoticesTopic(site string) string { return "palier/v1/" + site + "/notices" }

// ParseSubject reads palier.v1.{site}.{cabin}.{kind}, checking the ids, and
// says what is wrong with any other subject.
func ParseSubject(subject, kind string) (site, cabin string, err error) {
	tok := strings.Split(subject, ".")
	if len(tok) != 5 || tok[0] != "palier" || tok[1] != "v1" || tok[4] != kind {
		return "", "", fmt.Errorf("subject %q is not palier.v1.{site}.{cabin}.%s", subject, kind)
	}
	if err := ValidateID(tok[2]); err != nil {
		return "", "", fmt.Errorf("subject %q: site %w", subject, err)
	}
	if err := ValidateID(tok[3]); err != nil {
		return "", "", fmt.Errorf("subject %q: cabin %w", subject, err)
	}
	return tok[2], tok[3], nil
}

// EventsSubjectOf is the NATS subject of a cabin's events topic.
func EventsSubjectOf(site, cabin string) string { return "palier.v1." + site + "." + cabin + ".events" }

// AckSubject is the NATS subject of a cabin's ack topic.
func AckSubject(site, cabin string) string { return "palier.v1." + site + "." + cabin + ".ack" }

// AlarmAckSubject is the NATS subject of a cabin's alarm_ack topic, where
// the receiver publishes operators' acknowledgements (AlarmAck).
func AlarmAckSubject(site, cabin string) string {
	return "palier.v1." + site + "." + cabin + ".alarm_ack"
}

// AlarmAckTopic is the MQTT topic of a cabin's alarm acknowledgements.
func AlarmAckTopic(site, cabin string) string {
	return "palier/v1/" + site + "/" + cabin + "/alarm_ack"
}

// NoticesSubject is the NATS subject of a site's notices topic.
func NoticesSubject(site string) string { return "palier.v1." + site + ".notices" }

// PresenceInterval is how often a connected agent publishes its retained
// status again (online), so that a receiver can tell a cabin it has not
// heard from for several intervals (stale) from one that is just quiet: a
// last will is lost when the broker itself goes down with the cabin's
// session, or the cabin dies while its broker is unreachable.
const PresenceInterval = time.Minute

// ClientID derives the MQTT client id of a cabin. Its separator is one that
// ids cannot hold ('_'), so two cabins never share an id: with '-', site
// a-b cabin c and site a cabin b-c were both palier-a-b-c and took over
// each other's session. NATS refuses dots in it.
func ClientID(site, cabin string) string { return "palier_" + site + "_" + cabin }
