package outbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeRecord: stored entries come back from a disk that may be damaged.
// Decoding never panics, and what decodes re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	r := record{class: ClassEvents, attempts: 2, appended: 1, sentAt: 2, payload: []byte(`{"type":"arrival"}`)}
	f.Add(r.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if r.class >= numClasses {
			t.Fatalf("decoded class %d", r.class)
		}
		if got := r.encode(); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, decoded from %x", got, b)
		}
	})
}

// FuzzDecodeQuarantine: the same for quarantined entries with their reason.
func FuzzDecodeQuarantine(f *testing.F) {
	r := record{class: ClassSafety, payload: []byte("x")}
	f.Add(encodeQuarantine("too large", &r))
	f.Fuzz(func(t *testing.T, b []byte) {
		reason, r, err := decodeQuarantine(b)
		if err != nil {
			return
		}
		if len(reason) > 1024 {
			return // encodeQuarantine truncates such reasons
		}
		if got := encodeQuarantine(reason, &r); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, decoded from %x", got, b)
		}
	})
}

// FuzzOpenDamaged writes data over a real outbox file at offset off and
// opens it: Open must succeed whatever the damage, and the outbox it returns
// must work and pass bbolt's check.
func FuzzOpenDamaged(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint32(16))
	f.Fuzz(func(t *testing.T, data []byte, off uint32) {
		path := filepath.Join(t.TempDir(), "outbox.db")
		o, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			if _, err := o.Append(context.Background(), Class(i%3), bytes.Repeat([]byte{'a' + byte(i)}, 100)); err != nil {
				t.Fatal(err)
			}
		}
		o.Close()
		size := fileSize(t, path)
		if len(data) > 0 {
			overwrite(t, path, int64(off)%size, data)
		}
		if off%7 == 0 {
			if err := os.Truncate(path, int64(off)%size); err != nil {
				t.Fatal(err)
			}
		}
		o, err = Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatalf("Open of a damaged file: %v", err)
		}
		if _, err := o.Append(context.Background(), ClassSafety, []byte("after")); err != nil {
			t.Fatalf("Append after Open: %v", err)
		}
		if _, err := o.Lease(context.Background(), 100, 0); err != nil {
			t.Fatalf("Lease after Open: %v", err)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path)
	})
}
