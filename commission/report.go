package commission

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/wire"
)

// File is the report as saved on the device.
type File struct {
	Site   string                    `json:"site"`
	Cabin  string                    `json:"cabin"`
	Report wire.CommissionReportData `json:"report"`
}

// Save writes the report of the cabin site/cabin to path.
func Save(path, site, cabin string, data wire.CommissionReportData) error {
	b, err := json.MarshalIndent(File{Site: site, Cabin: cabin, Report: data}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	return nil
}

// Queue appends the report to the outbox as the agent would, after an
// outbox_reset event if opening it had to set a damaged file aside, and
// returns the report's sequence.
func Queue(ctx context.Context, ob *outbox.Outbox, data wire.CommissionReportData, now time.Time) (uint64, error) {
	if r := ob.Reset(); r != nil {
		ev, err := wire.NewEvent(now, wire.TypeOutboxReset, wire.OutboxResetData{Reason: r.Reason, MovedTo: r.MovedTo, PrevEpoch: r.PrevEpoch})
		if err != nil {
			return 0, err
		}
		b, _ := json.Marshal(ev)
		if _, err := ob.Append(ctx, outbox.ClassSafety, b); err != nil {
			return 0, fmt.Errorf("append outbox_reset event: %w", err)
		}
	}
	ev, err := wire.NewEvent(now, wire.TypeCommissionReport, data)
	if err != nil {
		return 0, err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return 0, fmt.Errorf("encode commission_report event: %w", err)
	}
	seq, err := ob.Append(ctx, outbox.ClassEvents, b)
	if err != nil {
		return 0, fmt.Errorf("append commission_report event: %w", err)
	}
	return seq, nil
}
