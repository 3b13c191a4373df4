package outbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/wire"
	bolt "go.etcd.io/bbolt"
)

// writeRealOutbox makes a real outbox file holding n entries and returns its epoch.
func writeRealOutbox(t *testing.T, path string, n int) string {
	t.Helper()
	o, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := o.Append(context.Background(), Class(i%3), bytes.Repeat([]byte{byte(i)}, 200)); err != nil {
			t.Fatal(err)
		}
	}
	epoch := o.Epoch()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	return epoch
}

func TestDamagedFileIsSetAside(t *testing.T) {
	cases := []struct {
		name      string
		damage    func(t *testing.T, path string)
		prevEpoch bool // the old epoch can still be read
	}{
		{"garbage", func(t *testing.T, path string) {
			b := make([]byte, 64<<10)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			writeFile(t, path, b)
		}, false},
		{"empty", func(t *testing.T, path string) {
			writeRealOutbox(t, path, 59)
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"text", func(t *testing.T, path string) {
			writeFile(t, path, []byte("not a database\n"))
		}, false},
		{"truncated", func(t *testing.T, path string) {
			writeRealOutbox(t, path, 300)
			if err := os.Truncate(path, 5000); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"meta pages zeroed", func(t *testing.T, path string) {
			writeRealOutbox(t, path, 50)
			overwrite(t, path, 0, make([]byte, 8192))
		}, false},
		{"data pages zeroed", func(t *testing.T, path string) {
			writeRealOutbox(t, path, 300)
			size := fileSize(t, path)
			overwrite(t, path, 8192, make([]byte, size-8192))
		}, false},
		{"tree pages zeroed, fails check", func(t *testing.T, path string) {
			writeRealOutbox(t, path, 300)
			// Keep both meta pages and the freelist so bbolt opens the file;
			// the bucket pages they point to are gone.
			keep := freelistPage(t, path)
			size := fileSize(t, path)
			for off := int64(8192); off < size; off += 4096 {
				if off/4096 != keep {
					overwrite(t, path, off, make([]byte, 4096))
				}
			}
		}, false},
		{"foreign bbolt file", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("something-else"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, false},
		{"undecodable record", func(t *testing.T, path string) {
			writeRealOutbox(t, path, 3)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketPending[ClassEvents]).Put(seqKey(2), []byte{9, 9, 9})
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, true},
		{"sequence beyond last", func(t *testing.T, path string) {
			writeRealOutbox(t, path, 3)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				r := record{class: ClassSafety}
				return tx.Bucket(bucketPending[ClassSafety]).Put(seqKey(99), r.encode())
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			tc.damage(t, path)
			damagedBytes, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			o, err := Open(context.Background(), path, Options{Now: clock.Now})
			if err != nil {
				t.Fatalf("Open of a damaged file failed: %v", err)
			}
			defer func() {
				o.Close()
				checkFile(t, path)
			}()
			r := o.Reset()
			if r == nil {
				t.Fatal("Reset() = nil after opening a damaged file")
			}
			t.Logf("reset: %+v", *r)
			if r.Reason == "" || r.MovedTo != path+".damaged-20261124T140000Z" {
				t.Fatalf("reset %+v", *r)
			}
			if tc.prevEpoch && (wire.ValidateEpoch(r.PrevEpoch) != nil || r.PrevEpoch == o.Epoch()) {
				t.Fatalf("prev epoch %q, new epoch %q", r.PrevEpoch, o.Epoch())
			}
			moved, err := os.ReadFile(r.MovedTo)
			if err != nil || !bytes.Equal(moved, damagedBytes) {
				t.Fatalf("damaged file not kept intact at %s: %v", r.MovedTo, err)
			}
			if seq := mustAppend(t, o, ClassSafety, "outbox_reset"); seq != 1 {
				t.Fatalf("first sequence of the new epoch = %d", seq)
			}
		})
	}
}

// TestDirectoryInPlaceOfTheFile: a directory where the file should be is
// set aside like a damaged file instead of stopping the agent.
func TestDirectoryInPlaceOfTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	o, err := Open(context.Background(), path, Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("Open with a directory in place: %v", err)
	}
	defer func() {
		o.Close()
		checkFile(t, path)
	}()
	r := o.Reset()
	if r == nil || !strings.Contains(r.Reason, "directory") {
		t.Fatalf("reset %+v, want one naming the directory", r)
	}
	if fi, err := os.Stat(filepath.Join(r.MovedTo, "inside")); err != nil || !fi.IsDir() {
		t.Fatalf("the directory was not kept at %s: %v", r.MovedTo, err)
	}
	if seq := mustAppend(t, o, ClassSafety, "outbox_reset"); seq != 1 {
		t.Fatalf("first sequence of the new epoch = %d", seq)
	}
}

func TestResetReportedUntilFirstAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	writeFile(t, path, []byte(strings.Repeat("junk", 5000)))
	for i := range 2 {
		o, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if o.Reset() == nil {
			t.Fatalf("open %d: reset not reported before the first append", i)
		}
		o.Close()
	}
	o, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	epoch := o.Epoch()
	mustAppend(t, o, ClassSafety, "outbox_reset")
	if o.Reset() == nil {
		t.Fatal("Reset() cleared in memory by the append; it describes this Open")
	}
	o.Close()
	o, err = Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Reset() != nil || o.Epoch() != epoch {
		t.Fatalf("after the first append: reset %+v, epoch %q (was %q)", o.Reset(), o.Epoch(), epoch)
	}
	if matches, _ := filepath.Glob(path + ".damaged-*"); len(matches) != 1 {
		t.Fatalf("damaged files %v, want exactly one", matches)
	}
}

func TestOpenFailsOnlyWhenNoFileCanBeCreated(t *testing.T) {
	// The parent "directory" is a regular file: nothing can be created there.
	parent := filepath.Join(t.TempDir(), "file")
	writeFile(t, parent, []byte("x"))
	if _, err := Open(context.Background(), filepath.Join(parent, "outbox.db"), Options{}); err == nil {
		t.Fatal("Open under a regular file succeeded")
	}
}

// freelistPage reads the freelist page id from the newer meta page (bbolt's
// on-disk layout: page header 16 bytes, then magic, version, page size, flags,
// root bucket (16), freelist, pgid, txid).
func freelistPage(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := func(off int) int64 { return int64(binary.LittleEndian.Uint64(b[off:])) }
	m := 0
	if le(4096+64) > le(64) {
		m = 4096
	}
	return le(m + 48)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(fmt.Errorf("overwrite %s: %w", path, err))
	}
}
