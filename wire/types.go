package wire

import "time"

// Event types: the elevator vocabulary of DESIGN.md.
const (
	TypeArrival           = "arrival"            // ArrivalData
	TypeTrip              = "trip"               // TripData
	TypeDoorCycle         = "door_cycle"         // DoorCycleData
	TypeDirectionChange   = "direction_change"   // DirectionChangeData
	TypeModeChange        = "mode_change"        // ModeChangeData
	TypeFault             = "fault"              // FaultData (raised or cleared)
	TypeAlarm             = "alarm"              // AlarmData (pressed or cleared)
	TypeEntrapment        = "entrapment"         // EntrapmentData (suspected or cleared)
	TypeService           = "service"            // ServiceData (out of / back in service)
	TypeHeartbeat         = "heartbeat"          // HeartbeatData
	TypeHealth            = "health"             // HealthData
	TypeOutboxReset       = "outbox_reset"       // OutboxResetData
	TypeDoorOpenTooLong   = "door_open_too_long" // DoorOpenTooLongData
	TypeTripTooLong       = "trip_too_long"      // TripTooLongData
	TypeLevellingError    = "levelling_error"    // LevellingErrorData
	TypeDropped           = "dropped"            // DroppedData
	TypeCommissionReport  = "commission_report"  // CommissionReportData
	TypeLost              = "lost"               // LostData
	TypeAlarmAcknowledged = "alarm_acknowledged" // AlarmAcknowledgedData
	TypeConfigApplied     = "config_applied"     // ConfigAppliedData
	TypeConfigRefused     = "config_refused"     // ConfigRefusedData
	TypeConfigRolledBack  = "config_rolled_back" // ConfigRolledBackData
	TypeUpdateApplied     = "update_applied"     // UpdateData
	TypeUpdateFailed      = "update_failed"      // UpdateData
	TypeUpdateRolledBack  = "update_rolled_back" // UpdateData
)

// Directions.
const (
	DirectionNone = "none"
	DirectionUp   = "up"
	DirectionDown = "down"
)

// Modes (CiA 417-style names).
const (
	ModeNormal         = "normal"
	ModeInspection     = "inspection"
	ModeFireService    = "fire_service"
	ModeOutOfService   = "out_of_service"
	ModeOverload       = "overload"
	ModeEmergencyPower = "emergency_power"
)

// Door states.
const (
	DoorClosed  = "closed"
	DoorOpening = "opening"
	DoorOpen    = "open"
	DoorClosing = "closing"
	DoorBlocked = "blocked"
)

// Fault severities.
const (
	SeverityError        = "error"
	SeveritySelfClearing = "self_clearing"
	SeveritySpecialMode  = "special_mode"
)

// ArrivalData: the car stopped level at a floor.
type ArrivalData struct {
	Floor int `json:"floor"`
}

// TripData: a run from one floor to another.
type TripData struct {
	From       int    `json:"from"`
	To         int    `json:"to"`
	Direction  string `json:"direction"`
	DurationMS int64  `json:"duration_ms"`
}

// DoorCycleData: doors opened and closed again at a floor.
type DoorCycleData struct {
	Floor   int    `json:"floor"`
	Door    string `json:"door,omitempty"`
	OpenMS  int64  `json:"open_ms"`
	Reopens int    `json:"reopens"`
}

// DirectionChangeData: the travel direction changed.
type DirectionChangeData struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// ModeChangeData: the controller's operating mode changed.
type ModeChangeData struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// FaultData: a controller fault was raised or cleared.
type FaultData struct {
	Code     int    `json:"code"`
	Text     string `json:"text,omitempty"`
	Severity string `json:"severity"`
	Active   bool   `json:"active"`
}

// AlarmData: the alarm button was pressed or released.
type AlarmData struct {
	Active bool `json:"active"`
	Floor  int  `json:"floor"`
}

// EntrapmentData: passengers may be trapped, or no longer are.
type EntrapmentData struct {
	Active bool   `json:"active"`
	Reason string `json:"reason,omitempty"`
	Floor  int    `json:"floor"`
}

// ServiceData: the cabin went out of service or came back.
type ServiceData struct {
	InService bool   `json:"in_service"`
	Reason    string `json:"reason,omitempty"`
}

// Counters are running totals; they never go backwards.
type Counters struct {
	Trips            uint64 `json:"trips"`
	DoorCycles       uint64 `json:"door_cycles"`
	DirectionChanges uint64 `json:"direction_changes"`
	RunningSeconds   uint64 `json:"running_s"`
	IdleSeconds      uint64 `json:"idle_s"`
	StandbySeconds   uint64 `json:"standby_s"`
}

// HeartbeatData: periodic counters.
type HeartbeatData struct {
	Counters Counters `json:"counters"`
}

// HealthData: how the agent itself is doing.
type HealthData struct {
	UptimeSeconds     uint64  `json:"uptime_s"`
	PollErrorRate     float64 `json:"poll_error_rate"`
	OutboxDepth       uint64  `json:"outbox_depth"`
	OldestPendingAgeS float64 `json:"oldest_pending_age_s"`
	Evictions         uint64  `json:"evictions,omitempty"`
	Quarantined       uint64  `json:"quarantined,omitempty"`
	// AgentVersion is the agent's build (e.g. v1.4.0), so the fleet view
	// shows which version each cabin runs.
	AgentVersion string `json:"agent_version,omitempty"`
}

// OutboxResetData: the outbox file was damaged and set aside; the events it
// held may be lost. It is the first event of the new epoch.
type OutboxResetData struct {
	Reason    string `json:"reason"`
	MovedTo   string `json:"moved_to,omitempty"`
	PrevEpoch string `json:"prev_epoch,omitempty"`
}

// DoorOpenTooLongData: doors stayed open past the configured threshold.
type DoorOpenTooLongData struct {
	Floor  int   `json:"floor"`
	OpenMS int64 `json:"open_ms"`
}

// TripTooLongData: a trip lasted past the configured threshold.
type TripTooLongData struct {
	From       int    `json:"from"`
	Direction  string `json:"direction"`
	DurationMS int64  `json:"duration_ms"`
}

// LevellingErrorData: the car stopped at a floor off its level position.
type LevellingErrorData struct {
	Floor   int   `json:"floor"`
	ErrorMM int64 `json:"error_mm"`
}

// DroppedData stands in for an event the agent could not send (damaged or
// too large, and quarantined on the device), so that the sequence stays
// contiguous and acknowledgements can move past it.
type DroppedData struct {
	Reason string `json:"reason"`
}

// Reasons a sequence is accounted for as lost (LostData.Reason).
const (
	// LostEvicted: the outbox was full and the entry was evicted to make
	// room (telemetry first, then events; never safety).
	LostEvicted = "evicted"
	// LostMissing: the receiver has not got the sequence and the agent's
	// outbox no longer holds it (a receiver restored from an older backup,
	// a purged stream, a bug).
	LostMissing = "missing"
	// LostRefused: the receiver's store refused the batch that carried it
	// (its content cannot be stored); set by the receiver, never sent.
	LostRefused = "refused"
)

// LostData accounts for sequences of this epoch that will never arrive,
// so that every sequence ends up stored or accounted for and the
// acknowledgement moves past the gap. Ranges ascend, are disjoint and lie
// below the report's own sequence. A lost report is a safety event: it is
// drained first and never evicted.
type LostData struct {
	Reason  string            `json:"reason"`
	Ranges  []Range           `json:"ranges"`
	Count   uint64            `json:"count"`             // sequences in Ranges
	Bytes   uint64            `json:"bytes,omitempty"`   // payload bytes lost, when known
	Classes map[string]uint64 `json:"classes,omitempty"` // sequences lost per outbox class, when known
}

// CommissionReportData: what an installer's commissioning session (agent
// commission) saw of the lift, and what it did not see and is left to test.
type CommissionReportData struct {
	Started    time.Time `json:"started"`
	DurationS  float64   `json:"duration_s"`
	Source     string    `json:"source"` // the profile or contact map read
	Polls      uint64    `json:"polls"`
	PollErrors uint64    `json:"poll_errors"`
	Trips      uint64    `json:"trips"`
	DoorCycles uint64    `json:"door_cycles"`
	Reopens    uint64    `json:"reopens"`
	Floors     []int     `json:"floors"`     // floors the car stood at, ascending
	Directions []string  `json:"directions"` // travel directions of the trips seen
	Modes      []string  `json:"modes"`
	Faults     []int     `json:"faults"` // fault codes raised
	Alarm      bool      `json:"alarm"`
	Entrapment bool      `json:"entrapment"`
	// Unchanged are the mapped signals whose value never changed: a wiring
	// or register-map problem, or a function nobody exercised.
	Unchanged []string `json:"unchanged"`
	// NotSeen lists what is left to test, in words for the installer.
	NotSeen []string `json:"not_seen"`
}

// newData returns a pointer to the data type of event type t, or nil for a
// type this schema version does not know.
func newData(t string) any {
	switch t {
	case TypeArrival:
		return new(ArrivalData)
	case TypeTrip:
		return new(TripData)
	case TypeDoorCycle:
		return new(DoorCycleData)
	case TypeDirectionChange:
		return new(DirectionChangeData)
	case TypeModeChange:
		return new(ModeChangeData)
	case TypeFault:
		return new(FaultData)
	case TypeAlarm:
		return new(AlarmData)
	case TypeEntrapment:
		return new(EntrapmentData)
	case TypeService:
		return new(ServiceData)
	case TypeHeartbeat:
		return new(HeartbeatData)
	case TypeHealth:
		return new(HealthData)
	case TypeOutboxReset:
		return new(OutboxResetData)
	case TypeDoorOpenTooLong:
		return new(DoorOpenTooLongData)
	case TypeTripTooLong:
		return new(TripTooLongData)
	case TypeLevellingError:
		return new(LevellingErrorData)
	case TypeDropped:
		return new(DroppedData)
	case TypeCommissionReport:
		return new(CommissionReportData)
	case TypeLost:
		return new(LostData)
	case TypeAlarmAcknowledged:
		return new(AlarmAcknowledgedData)
	case TypeConfigApplied:
		return new(ConfigAppliedData)
	case TypeConfigRefused:
		return new(ConfigRefusedData)
	case TypeConfigRolledBack:
		return new(ConfigRolledBackData)
	case TypeUpdateApplied, TypeUpdateFailed, TypeUpdateRolledBack:
		return new(UpdateData)
	case TypeCredentialRotated:
		return new(CredentialRotatedData)
	case TypeNoticeShown:
		return new(NoticeShownData)
	}
	return nil
}

// KnownType reports whether t is an event type of this schema version.
func KnownType(t string) bool { return newData(t) != nil }

// Safety reports whether events of type t are safety events: they drain
// first and are never evicted from a full outbox.
func Safety(t string) bool {
	switch t {
	case TypeAlarm, TypeEntrapment, TypeFault, TypeService, TypeOutboxReset, TypeLost, TypeAlarmAcknowledged:
		return true
	}
	return false
}

// Telemetry reports whether events of type t are periodic telemetry, the
// first to be evicted from a full outbox.
func Telemetry(t string) bool {
	switch t {
	case TypeHeartbeat, TypeHealth, TypeConfigApplied, TypeConfigRefused, TypeConfigRolledBack, TypeNoticeShown:
		return true
	}
	return false
}
