package wire

// Plausible values. They refuse what no elevator reports (a floor of
// 3,000,000,000, a negative duration, a fault text of a megabyte), which
// would otherwise be stored and drawn as it came; they are wide enough
// never to refuse what a controller does report.
const (
	MaxFloor      = 1000                  // floors are within ±MaxFloor
	MaxDurationMS = 31 * 24 * 3600 * 1000 // a month: any door, trip or run
	MaxTextLen    = 256                   // fault texts, reasons
	MaxVersionLen = 64                    // an agent's version
)

func checkFloor(field string, f int) error {
	if f < -MaxFloor || f > MaxFloor {
		return fieldErr(field, "%d is not a floor (want -%d to %d)", f, MaxFloor, MaxFloor)
	}
	return nil
}

func checkDuration(field string, ms int64) error {
	if ms < 0 || ms > MaxDurationMS {
		return fieldErr(field, "%d ms (want 0 to %d)", ms, int64(MaxDurationMS))
	}
	return nil
}

func checkText(field, s string, limit int) error {
	if len(s) > limit {
		return fieldErr(field, "%d bytes (at most %d)", len(s), limit)
	}
	return nil
}

func checkDirection(field, d string) error {
	switch d {
	case DirectionNone, DirectionUp, DirectionDown:
		return nil
	}
	return fieldErr(field, "%q (want %s, %s or %s)", d, DirectionNone, DirectionUp, DirectionDown)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *ArrivalData) check(uint64, bool) error { return checkFloor("floor", d.Floor) }

func (d *TripData) check(uint64, bool) error {
	return firstErr(checkFloor("from", d.From), checkFloor("to", d.To),
		checkDirection("direction", d.Direction), checkDuration("duration_ms", d.DurationMS))
}

func (d *DoorCycleData) check(uint64, bool) error {
	if d.Reopens < 0 {
		return fieldErr("reopens", "%d (want 0 or more)", d.Reopens)
	}
	return firstErr(checkFloor("floor", d.Floor), checkDuration("open_ms", d.OpenMS), checkText("door", d.Door, 16))
}

func (d *DirectionChangeData) check(uint64, bool) error {
	return firstErr(checkDirection("from", d.From), checkDirection("to", d.To))
}

func (d *FaultData) check(uint64, bool) error { return checkText("text", d.Text, MaxTextLen) }

func (d *AlarmData) check(uint64, bool) error { return checkFloor("floor", d.Floor) }

func (d *EntrapmentData) check(uint64, bool) error {
	return firstErr(checkFloor("floor", d.Floor), checkText("reason", d.Reason, MaxTextLen))
}

func (d *ServiceData) check(uint64, bool) error { return checkText("reason", d.Reason, MaxTextLen) }

func (d *HealthData) check(uint64, bool) error {
	if d.PollErrorRate < 0 || d.PollErrorRate > 1 {
		return fieldErr("poll_error_rate", "%g (want 0 to 1)", d.PollErrorRate)
	}
	return checkText("agent_version", d.AgentVersion, MaxVersionLen)
}

func (d *DoorOpenTooLongData) check(uint64, bool) error {
	return firstErr(checkFloor("floor", d.Floor), checkDuration("open_ms", d.OpenMS))
}

func (d *TripTooLongData) check(uint64, bool) error {
	return firstErr(checkFloor("from", d.From), checkDirection("direction", d.Direction), checkDuration("duration_ms", d.DurationMS))
}

func (d *LevellingErrorData) check(uint64, bool) error {
	if d.ErrorMM < -10_000 || d.ErrorMM > 10_000 {
		return fieldErr("error_mm", "%d mm (want within ±10 m)", d.ErrorMM)
	}
	return checkFloor("floor", d.Floor)
}
