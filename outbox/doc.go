// Package outbox is the agent's durable store-and-forward queue of events, kept
// in one bbolt file, between the sensors that produce events and the uplink
// that publishes them.
//
// # Concepts
//
//   - Entry: an opaque payload (an encoded event without its sequence) with the
//     sequence the outbox gave it. Sequences start at 1 in each epoch and never
//     repeat or skip, because the last sequence is stored in the same
//     transaction as the entries.
//   - Class: safety entries (alarm, entrapment, faults, out of service) are
//     drained first and never evicted; events come next; telemetry (heartbeats,
//     health) is drained last and evicted first. Each class keeps FIFO order.
//   - Stage: pending (to send), sent (the broker acknowledged it, see MarkSent),
//     confirmed (the receiver acknowledged it end to end, see Confirm; confirmed
//     entries are deleted). A sent entry still unconfirmed after
//     Options.ResendAfter becomes pending again.
//   - Lease: Lease hands pending entries to one sender and hides them from
//     other Lease calls until MarkSent or Release. Leases live in memory only,
//     so a restart makes every unsent entry pending again.
//   - Exits: like autopaho's queue, an entry leaves the queue by Confirm
//     (Remove), by Release (Leave) or by Quarantine (it can never be sent, for
//     example it is too large; it is set apart and counted, and never blocks
//     the queue). Confirm deletes only entries that may have been published
//     (marked sent once, or leased since Open): an acknowledgement claiming
//     more is forged or stale, deletes nothing else and is counted
//     (Stats.AcksBeyondSent).
//   - AppState: AppendWithState stores the caller's own small state (the
//     agent's counters) in the transaction of the entry it follows, so that
//     after a crash it never lags the entries stored.
//   - Epoch: a random id made when the file is created and stored in it. The
//     receiver deduplicates by (device, epoch, sequence), so a recreated outbox
//     never collides with sequences it already stored.
//   - Reset: Open never fails because of the file. A file that bbolt cannot
//     open, that fails bbolt's consistency check (tx.Check) or whose contents do
//     not decode, an empty file, or a directory in its place, is renamed to
//     "<path>.damaged-20261124T140000Z" and a new file is created; Reset says
//     so. The new file keeps the reset record until its
//     first Append commits, so a crash before the agent's first event (which
//     reports the reset) makes the next Open report it again.
//   - Bound: Options.MaxBytes bounds the stored payload bytes. Appending past
//     it evicts the oldest telemetry, then the oldest events; safety entries
//     are never evicted (so safety alone may exceed the bound) and a
//     telemetry or event entry that cannot make room is refused with ErrFull.
//     Evictions and refusals are counted in Stats, and so are appends lost
//     to a commit that failed (a full disk).
//
// # Durability
//
// Append returns only after the transaction holding the entry is committed and
// fsync'd. Concurrent Appends share one transaction (group commit): while one
// commit is being synced the next batch gathers, so a lone producer waits for
// one commit (bbolt syncs twice per commit: data pages, then the meta page)
// and many producers share it. db.Batch is not used: it waits MaxBatchDelay on
// every call from a single goroutine.
//
// # What the outbox assumes of the disk
//
//   - fdatasync returns only once the written pages are on stable storage (no
//     lying write cache); bbolt's commit relies on it, and so does every
//     promise above.
//   - rename(2) within a directory is atomic, and becomes durable once the
//     directory is fsync'd; the outbox fsyncs the directory after every rename
//     (compaction, move-aside).
//   - A torn write can damage at most the pages being written; bbolt keeps two
//     checksummed meta pages and falls back to the older one. Data pages carry
//     no checksum: silent corruption of a page already written is only caught
//     if tx.Check or record decoding notices it, and then the file is reset.
//   - A file may come back shorter than it was written (a file system that
//     lost its tail) or with any bytes changed. bbolt maps the file, and reading
//     a page past its end or through a wild offset is a fatal fault, not an
//     error; so before bbolt opens a file the outbox checks with plain reads
//     that the file is as long as its meta page says and that every element of
//     every reachable page points inside its page, and it turns any remaining
//     fault during Open into a recoverable panic (debug.SetPanicOnFault).
//   - The file is not shared: bbolt takes an exclusive flock, and a file locked
//     by another live process is an error (ErrLocked), never "damage".
//
// # Compaction
//
// Compaction happens only in Open, after the consistency check: when the file
// is at least Options.CompactMinBytes and more than half of its pages are free,
// the live data is copied into "<path>.compact", synced, and renamed over the
// file. A crash before the rename leaves the old file intact (the stale copy is
// removed at the next Open); a crash after it leaves the new one.
//
// # Test hooks
//
// Options.TestHook is called at the internal points where a crash matters
// (see the Hook* constants); crash tests make the process exit abruptly there.
package outbox
