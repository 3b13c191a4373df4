package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/wire"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// lockTimeout bounds the wait for another process's flock on the file.
const lockTimeout = 2 * time.Second

// damagedError marks a file that must be set aside, as opposed to an
// environment problem (locked file, unwritable directory).
type damagedError struct{ err error }

func (e *damagedError) Error() string { return e.err.Error() }
func (e *damagedError) Unwrap() error { return e.err }

func damaged(format string, args ...any) error {
	return &damagedError{fmt.Errorf(format, args...)}
}

// Open opens the outbox at path, creating it if needed. It never fails because
// the file is damaged: such a file is moved aside with a timestamp, a new one is
// created and Reset reports it. It fails if the file is locked by another
// process (ErrLocked) or a new file cannot be created.
func Open(ctx context.Context, path string, opts Options) (*Outbox, error) {
	opts = opts.withDefaults()
	log := opts.Logger.With("outbox", path)
	if err := ctxErr(ctx); err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}
	if err := recoverSideFiles(path, log); err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}
	if err := createIfMissing(path, opts); err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}

	db, st, epoch, err := openAndLoad(path, opts)
	var dmg *damagedError
	switch {
	case err == nil:
	case errors.As(err, &dmg):
		prev := ""
		if db != nil {
			prev = readEpoch(db)
			_ = db.Close()
		}
		log.Error("outbox file damaged, setting it aside", "err", err)
		db, st, epoch, err = replaceDamaged(path, err.Error(), prev, opts)
		if err != nil {
			return nil, fmt.Errorf("open outbox %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}

	db, err = maybeCompact(db, path, opts, log)
	if err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}

	o := &Outbox{
		db:      db,
		path:    path,
		opts:    opts,
		log:     log,
		epoch:   epoch,
		qsig:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		st:      st,
		leased:  make(map[uint64]struct{}),
		changed: make(chan struct{}),
	}
	if st.resetStored {
		r, err := readReset(db)
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open outbox %s: read reset record: %w", path, err)
		}
		o.reset = r
	}
	go o.commitLoop()
	return o, nil
}

// recoverSideFiles finishes or undoes a move-aside or compaction that a crash
// interrupted. A ".new" file is complete whenever the main file is missing,
// because the damaged file is moved only after the new one is synced.
func recoverSideFiles(path string, log interface{ Warn(string, ...any) }) error {
	newPath := path + ".new"
	if _, err := os.Stat(newPath); err == nil {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			log.Warn("finishing an interrupted outbox reset", "from", newPath)
			if err := os.Rename(newPath, path); err != nil {
				return fmt.Errorf("finish reset: %w", err)
			}
			if err := syncDir(path); err != nil {
				return err
			}
		} else if err := os.Remove(newPath); err != nil {
			return fmt.Errorf("remove stale %s: %w", newPath, err)
		}
	}
	if err := os.Remove(path + ".compact"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale compaction copy: %w", err)
	}
	if err := os.Remove(path + ".init"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale first file: %w", err)
	}
	return nil
}

// createIfMissing makes the first outbox file beside path and renames it
// into place once bbolt has written and synced it, so that a process
// killed during its very first start leaves no file, never an empty or
// half-written one: at path, an empty file can then only be damage (a
// file system that lost what it held), which is reported, never taken
// for a new outbox. Found by TestCrashKill, whose first kill can strike
// while bbolt creates the file.
func createIfMissing(path string, opts Options) error {
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return nil // there, or unreadable: Open says which
	}
	tmp := path + ".init"
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := initIfEmpty(db, opts.Now(), nil); err != nil {
		_ = db.Close()
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("put the new outbox in place: %w", err)
	}
	return syncDir(path)
}

// openAndLoad opens the file, checks it and loads its state. A damaged file is
// reported as *damagedError, with db still open when bbolt could open it.
func openAndLoad(path string, opts Options) (db *bolt.DB, st state, epoch string, err error) {
	db, err = boltOpen(path, opts)
	if err != nil {
		return nil, state{}, "", err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		// bbolt may panic on pages it cannot make sense of.
		if r := recover(); r != nil {
			err = damaged("read outbox: panic: %v", r)
		}
	}()
	if err = check(db); err != nil {
		return db, state{}, "", err
	}
	if err = initIfEmpty(db, opts.Now(), nil); err != nil {
		return db, state{}, "", err
	}
	if st, epoch, err = load(db); err != nil {
		return db, st, epoch, err
	}
	// Files written before losses were recorded lack their bucket; a
	// damaged file is left as it was, so add it only to a good one.
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketLosses)
		return err
	})
	if err != nil {
		err = fmt.Errorf("create losses bucket: %w", err)
	}
	return db, st, epoch, err
}

// boltOptions bound the file at MaxFileBytes + SafetyReserve, when set.
func boltOptions(opts Options) *bolt.Options {
	o := &bolt.Options{Timeout: lockTimeout}
	if opts.MaxFileBytes > 0 {
		o.MaxSize = int(min(opts.MaxFileBytes+opts.SafetyReserve, math.MaxInt))
	}
	return o
}

// boltReady sets what bolt.Options cannot: the file grows in small steps
// once past the first, not to the next power of two or by 16 MiB.
func boltReady(db *bolt.DB, opts Options) *bolt.DB {
	db.AllocSize = allocStep
	if opts.MaxFileBytes > 0 {
		db.AllocSize = int(min(allocStep, max(opts.MaxFileBytes/16, 32<<10)))
	}
	return db
}

func boltOpen(path string, opts Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, damaged("open bbolt: panic: %v", r)
		}
	}()
	if err := precheck(path); err != nil {
		return nil, err
	}
	// A fault reading the mapped file becomes a panic (recovered above)
	// instead of killing the agent.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	db, err = bolt.Open(path, 0o600, boltOptions(opts))
	switch {
	case err == nil:
		return boltReady(db, opts), nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, ErrLocked
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("open bbolt: %w", err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Op == "open" {
		// The file itself could not be opened (missing directory, read-only
		// file system): setting it aside would not help.
		return nil, fmt.Errorf("open bbolt: %w", err)
	}
	return nil, damaged("open bbolt: %v", err)
}

// check runs bbolt's consistency check.
func check(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		var msgs []string
		for err := range tx.Check() {
			if len(msgs) < 5 {
				msgs = append(msgs, err.Error())
			}
		}
		if len(msgs) > 0 {
			return damaged("consistency check: %s", strings.Join(msgs, "; "))
		}
		return nil
	})
}

// initIfEmpty gives a file without buckets its layout and a new epoch.
func initIfEmpty(db *bolt.DB, now time.Time, reset *Reset) error {
	empty := true
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
	}); err != nil {
		return damaged("list buckets: %v", err)
	}
	if !empty {
		return nil
	}
	epoch, err := newEpoch(now)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		for _, name := range allQueueBuckets() {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := meta.Put(keyFormat, []byte(formatVersion)); err != nil {
			return err
		}
		if err := meta.Put(keyEpoch, []byte(epoch)); err != nil {
			return err
		}
		if err := meta.Put(keyLastSeq, u64(0)); err != nil {
			return err
		}
		if reset != nil {
			return meta.Put(keyReset, []byte(reset.Reason+"\x00"+reset.MovedTo+"\x00"+reset.PrevEpoch))
		}
		return nil
	})
}

func allQueueBuckets() [][]byte {
	names := [][]byte{bucketSentIdx, bucketQuarantine}
	for c := range Class(numClasses) {
		names = append(names, bucketPending[c], bucketSent[c])
	}
	return names
}

// newEpoch makes a random epoch; the date prefix only helps people reading logs.
func newEpoch(now time.Time) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make epoch: %w", err)
	}
	return now.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:]), nil
}

// load validates the layout and recomputes the in-memory state from the file.
func load(db *bolt.DB) (st state, epoch string, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return damaged("no meta bucket")
		}
		for _, name := range allQueueBuckets() {
			if tx.Bucket(name) == nil {
				return damaged("no bucket %q", name)
			}
		}
		if f := string(meta.Get(keyFormat)); f != formatVersion {
			return damaged("format %q, want %q", f, formatVersion)
		}
		epoch = string(meta.Get(keyEpoch))
		if err := wire.ValidateEpoch(epoch); err != nil {
			return damaged("epoch: %v", err)
		}
		var err error
		if st.lastSeq, err = getU64(meta.Get(keyLastSeq)); err != nil {
			return damaged("last sequence: %v", err)
		}
		if st.quarantined, err = getU64(meta.Get(keyQuarantined)); err != nil {
			return damaged("quarantined counter: %v", err)
		}
		for c := range Class(numClasses) {
			if st.evicted[c], err = getU64(meta.Get(keyEvicted[c])); err != nil {
				return damaged("evicted counter: %v", err)
			}
			if st.dropped[c], err = getU64(meta.Get(keyDropped[c])); err != nil {
				return damaged("dropped counter: %v", err)
			}
		}
		st.resetStored = meta.Get(keyReset) != nil
		if v := meta.Get(keyAppState); v != nil {
			st.appState = append([]byte(nil), v...) // bbolt's memory is valid only in the transaction
		}
		sent := 0
		for c := range Class(numClasses) {
			for stage, name := range [][]byte{bucketPending[c], bucketSent[c]} {
				err := tx.Bucket(name).ForEach(func(k, v []byte) error {
					if len(k) != 8 {
						return damaged("bucket %s: key of %d bytes", name, len(k))
					}
					if seq := keySeq(k); seq == 0 || seq > st.lastSeq {
						return damaged("bucket %s: sequence %d outside 1..%d", name, seq, st.lastSeq)
					}
					r, err := decodeRecord(v)
					if err != nil {
						return damaged("bucket %s seq %d: %v", name, keySeq(k), err)
					}
					if r.class != c {
						return damaged("bucket %s seq %d: class %s", name, keySeq(k), r.class)
					}
					st.count[c][stage]++
					st.bytes[c][stage] += int64(len(r.payload))
					return nil
				})
				if err != nil {
					return err
				}
			}
			sent += st.count[c][stageSent]
		}
		if n := tx.Bucket(bucketSentIdx).Stats().KeyN; n != sent {
			return damaged("sent index holds %d keys for %d sent entries", n, sent)
		}
		return loadLosses(tx, &st)
	})
	return st, epoch, err
}

// readEpoch reads the epoch of a damaged file if it still can.
func readEpoch(db *bolt.DB) (epoch string) {
	defer func() {
		if recover() != nil {
			epoch = ""
		}
	}()
	_ = db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			if e := string(meta.Get(keyEpoch)); wire.ValidateEpoch(e) == nil {
				epoch = e
			}
		}
		return nil
	})
	return epoch
}

func readReset(db *bolt.DB) (*Reset, error) {
	var r *Reset
	err := db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyReset)
		if v == nil {
			return nil
		}
		parts := strings.SplitN(string(v), "\x00", 3)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		r = &Reset{Reason: parts[0], MovedTo: parts[1], PrevEpoch: parts[2]}
		return nil
	})
	return r, err
}

// replaceDamaged sets the file at path aside and puts a new outbox in its
// place. The new file is created and synced beside the old one first, so a
// crash at any point leaves either the old file in place (and the reset is
// redone) or the complete new file, with its reset record, ready to be renamed
// by recoverSideFiles.
func replaceDamaged(path, reason, prevEpoch string, opts Options) (*bolt.DB, state, string, error) {
	now := opts.Now().UTC()
	newPath := path + ".new"
	moved := path + ".damaged-" + now.Format("20060102T150405Z")
	for i := 2; ; i++ {
		if _, err := os.Lstat(moved); errors.Is(err, os.ErrNotExist) {
			break
		}
		moved = fmt.Sprintf("%s.damaged-%s-%d", path, now.Format("20060102T150405Z"), i)
	}
	reset := &Reset{Reason: reason, MovedTo: moved, PrevEpoch: prevEpoch}

	if err := os.Remove(newPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, state{}, "", fmt.Errorf("remove stale %s: %w", newPath, err)
	}
	ndb, err := bolt.Open(newPath, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, state{}, "", fmt.Errorf("create %s: %w", newPath, err)
	}
	if err := initIfEmpty(ndb, now, reset); err != nil {
		_ = ndb.Close()
		return nil, state{}, "", fmt.Errorf("create %s: %w", newPath, err)
	}
	if err := ndb.Close(); err != nil {
		return nil, state{}, "", fmt.Errorf("create %s: %w", newPath, err)
	}
	if err := syncDir(path); err != nil {
		return nil, state{}, "", err
	}
	hookAt(opts, HookResetCreated)
	if err := os.Rename(path, moved); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, state{}, "", fmt.Errorf("move damaged file aside: %w", err)
	}
	if err := syncDir(path); err != nil {
		return nil, state{}, "", err
	}
	hookAt(opts, HookResetMovedAside)
	if err := os.Rename(newPath, path); err != nil {
		return nil, state{}, "", fmt.Errorf("put new outbox in place: %w", err)
	}
	if err := syncDir(path); err != nil {
		return nil, state{}, "", err
	}
	db, st, epoch, err := openAndLoad(path, opts)
	if err != nil {
		if db != nil {
			_ = db.Close()
		}
		return nil, state{}, "", fmt.Errorf("open new outbox: %w", err)
	}
	return db, st, epoch, nil
}

// maybeCompact rewrites the file when most of it is free pages. Failing to
// compact is logged, never fatal: the old file is still good.
func maybeCompact(db *bolt.DB, path string, opts Options, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) (*bolt.DB, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return db, nil
	}
	size := fi.Size()
	pageSize := int64(db.Info().PageSize)
	bs := db.Stats()
	free := int64(bs.FreePageN + bs.PendingPageN)
	if size < opts.CompactMinBytes || pageSize == 0 || free*pageSize*2 <= size {
		return db, nil
	}
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		log.Warn("outbox compaction skipped", "err", err)
		return db, nil
	}
	if err := bolt.Compact(dst, db, 4<<20); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		log.Warn("outbox compaction failed", "err", err)
		return db, nil
	}
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		log.Warn("outbox compaction failed", "err", err)
		return db, nil
	}
	hookAt(opts, HookCompactCopied)
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("close before compaction: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		log.Warn("outbox compaction failed", "err", err)
	} else {
		hookAt(opts, HookCompactRenamed)
		if err := syncDir(path); err != nil {
			return nil, err
		}
	}
	ndb, err := bolt.Open(path, 0o600, boltOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("reopen after compaction: %w", err)
	}
	boltReady(ndb, opts)
	if nfi, err := os.Stat(path); err == nil {
		log.Info("outbox compacted", "from_bytes", size, "to_bytes", nfi.Size())
	}
	return ndb, nil
}

func hookAt(opts Options, point string) {
	if opts.TestHook != nil {
		opts.TestHook(point)
	}
}

// syncDir makes renames in path's directory durable.
func syncDir(path string) error { return atomicfile.SyncDir(filepath.Dir(path)) }
