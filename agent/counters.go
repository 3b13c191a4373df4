package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/wire"
)

// loadCounters reads the persisted counters; a missing file is a fresh
// cabin, a damaged one is reported and replaced by zeros so the agent starts.
func loadCounters(path string) (wire.Counters, error) {
	var c wire.Counters
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read counters: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return wire.Counters{}, fmt.Errorf("decode counters %s: %w", path, err)
	}
	return c, nil
}

// saveCounters writes the counters atomically and durably: a power cut
// leaves either the old file or the new one, so totals never go backwards
// further than the last save.
func saveCounters(path string, c wire.Counters) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode counters: %w", err)
	}
	return atomicfile.Write(path, b, 0o600)
}

// recoverCounters takes, field by field, the larger of the saved counters
// and those stored with the outbox's last event (appState): each only
// grows, so the larger is the newer.
func recoverCounters(saved wire.Counters, appState []byte, logger *slog.Logger) wire.Counters {
	if appState == nil {
		return saved
	}
	var c wire.Counters
	if err := json.Unmarshal(appState, &c); err != nil {
		logger.Error("counters stored in the outbox unreadable; keeping counters.json", "err", err)
		return saved
	}
	return wire.Counters{
		Trips:            max(saved.Trips, c.Trips),
		DoorCycles:       max(saved.DoorCycles, c.DoorCycles),
		DirectionChanges: max(saved.DirectionChanges, c.DirectionChanges),
		RunningSeconds:   max(saved.RunningSeconds, c.RunningSeconds),
		IdleSeconds:      max(saved.IdleSeconds, c.IdleSeconds),
		StandbySeconds:   max(saved.StandbySeconds, c.StandbySeconds),
	}
}
