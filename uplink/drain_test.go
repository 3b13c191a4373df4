package uplink_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/uplink"
)

// failingQueue is the real outbox, with failures injected at the queue's
// boundary as a full disk gives them: Lease fails its first leases times,
// MarkSent its first marks times.
type failingQueue struct {
	*outbox.Outbox
	leases, marks atomic.Int64
}

var errNoSpace = &os.PathError{Op: "write", Path: "outbox.db", Err: syscall.ENOSPC}

func (q *failingQueue) Lease(ctx context.Context, n, b int) ([]outbox.Entry, error) {
	if q.leases.Add(-1) >= 0 {
		return nil, errNoSpace
	}
	return q.Outbox.Lease(ctx, n, b)
}

func (q *failingQueue) MarkSent(seqs []uint64) error {
	if q.marks.Add(-1) >= 0 {
		return errNoSpace
	}
	return q.Outbox.MarkSent(seqs)
}

// TestDrainOutlivesOutboxFailures: a Lease that fails (the outbox could
// not requeue on a full disk) used to end the drain for the rest of the
// session, and a MarkSent that failed left its batch leased for ever; the
// receiver got nothing while the link stayed up (issue 14). Both now pass
// with the disk: every event arrives, in one session.
func TestDrainOutlivesOutboxFailures(t *testing.T) {
	b := startBroker(t)
	count := watchEvents(t, b.nats())
	ob := openOutbox(t)
	appendArrivals(t, ob, 120)
	q := &failingQueue{Outbox: ob}
	q.leases.Store(2)
	q.marks.Store(1)
	up, err := uplink.New(testConfig(b), site, cabin, q, discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	defer stopRun(t, cancel, done)
	eventually(t, "all 120 events published", func() bool { return count.distinct() == 120 })
	eventually(t, "nothing left leased", func() bool { return ob.Stats().Leased == 0 })
	if st := up.Stats(); st.Connects != 1 {
		t.Fatalf("%d connections: the session should have carried on", st.Connects)
	}
}

// TestUnreadableSecretsStopNew: a password or CA file that exists but cannot
// be used (an empty password file, a CA that is not PEM) is an error of New,
// naming it, not an uplink that never connects while the outbox fills.
func TestUnreadableSecretsStopNew(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "password")
	os.WriteFile(empty, nil, 0o600)
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for name, tc := range map[string]struct {
		edit func(*uplink.Config)
		want string
	}{
		"empty password file": {func(c *uplink.Config) { c.Username = "les-pins-a"; c.PasswordFile = empty }, "file is empty"},
		"CA file not PEM":     {func(c *uplink.Config) { c.Broker = "ssl://127.0.0.1:8883"; c.TLS.CAFile = notPEM }, "no PEM certificate"},
	} {
		cfg := uplink.DefaultConfig()
		tc.edit(&cfg)
		if _, err := uplink.New(cfg, site, cabin, openOutbox(t), discard()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New said %v, want an error saying %q", name, err, tc.want)
		}
	}
}
