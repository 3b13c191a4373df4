package sensors

import "time"

// Sample is one consistent reading of the cabin, decoded from a controller
// profile or from contacts. Fields a source cannot provide are left at their
// zero value and flagged in Has.
type Sample struct {
	Time         time.Time
	Floor        int    // floor index as the controller counts it (0 = lowest served floor, unless the profile says otherwise)
	PositionMM   int64  // car position in mm, valid when Has&HasPosition
	Direction    string // wire.DirectionNone, DirectionUp or DirectionDown
	Moving       bool
	DoorZone     bool     // car within the door zone of a floor
	Doors        []string // wire.Door* state per door, door A first
	Mode         string   // wire.Mode*
	FaultCode    int      // 0 when no fault is active
	Alarm        bool     // alarm button pressed
	CallsPending bool     // the controller has calls waiting
	LoadPercent  int      // valid when Has&HasLoad
	Has          Has
}

// Has flags the optional signals a source provides.
type Has uint16

const (
	HasPosition Has = 1 << iota
	HasDoorZone
	HasCalls
	HasLoad
	HasFault
	HasAlarm
)
