package outbox

import "errors"

// Errors returned by the outbox; callers branch on them with errors.Is.
var (
	// ErrClosed is returned by calls made on, or pending during, Close.
	ErrClosed = errors.New("outbox closed")

	// ErrFull is returned by Append when a telemetry or event entry cannot be
	// stored within Options.MaxBytes even after evicting what its class may
	// evict. Nothing was stored and no sequence was used. It is counted in
	// Stats.Dropped.
	ErrFull = errors.New("outbox full")

	// ErrNotFound is returned by Quarantine for a sequence that is not in the
	// queue (already confirmed, evicted or quarantined).
	ErrNotFound = errors.New("outbox entry not found")
	// ErrRolledBack is returned by Confirm for an acknowledgement of this
	// epoch beyond the file's last sequence: the receiver holds sequences
	// the file never wrote, so the file is an older copy put back (a
	// backup, a snapshot, a card image) and its next sequences are taken.
	// Rotate starts a new epoch.
	ErrRolledBack = errors.New("outbox file rolled back: the receiver holds sequences beyond its last")

	// ErrLocked is returned by Open when another process holds the file. A
	// locked file is in use, not damaged, so it is never set aside.
	ErrLocked = errors.New("outbox file locked by another process")

	// ErrBadRecord is returned when stored bytes do not decode as an entry.
	ErrBadRecord = errors.New("bad outbox record")
)
