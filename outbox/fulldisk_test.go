package outbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const envFullDiskChild = "OUTBOX_FULL_DISK_CHILD"

// TestFullDiskAppendsAreCounted fills a real file system (a 4 MiB tmpfs in
// a mount namespace of a child process, made with util-linux's unshare)
// and checks that the last of its space goes to safety events (ordinary
// events are refused below SafetyReserve), and that every failed append is
// counted as dropped, in memory and, once the disk has room again, in the
// file (issue 14: about 250 events dropped for ENOSPC over 84 s were
// counted nowhere, and nothing kept room for an alarm).
func TestFullDiskAppendsAreCounted(t *testing.T) {
	if os.Getenv(envFullDiskChild) != "" {
		fullDiskChild(t)
		return
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) runs the child in a mount namespace: %v", err)
	}
	// Root needs only a mount namespace (and may not make a user namespace
	// inside a chroot); anyone else maps themselves to root in a new one.
	// unshare's own "make / private" fails where / is no mount point (a
	// chroot): the child does it, and only where it can.
	args := []string{"--mount", "--propagation", "unchanged", "--"}
	if os.Geteuid() != 0 {
		args = []string{"--user", "--map-root-user", "--mount", "--propagation", "unchanged", "--"}
	}
	if w := os.Getenv("PALIER_TEST_EXEC"); w != "" { // under qemu-user
		args = append(args, w)
	}
	args = append(args, os.Args[0], "-test.run=^TestFullDiskAppendsAreCounted$", "-test.v")
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), envFullDiskChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("full-disk child: ok")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

func fullDiskChild(t *testing.T) {
	dir := t.TempDir()
	// Keep the tmpfs out of the parent's mount namespace. Where / is no
	// mount point (a chroot), the namespace that made the chroot is
	// private already.
	_ = syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, "")
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Fatalf("mount a 4 MiB tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	path := filepath.Join(dir, "outbox.db")
	const reserve = 512 << 10
	opts := Options{MaxBytes: 64 << 20, SafetyReserve: reserve}
	o, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("e"), 2000)
	for range 100 { // the file takes some pages
		if _, err := o.Append(context.Background(), ClassEvents, payload); err != nil {
			t.Fatal(err)
		}
	}
	// Take the disk down to less than the reserve.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 4096)
	for {
		if free, _ := freeBytes(dir); free < reserve/2 {
			break
		}
		if _, err := f.Write(block); err != nil {
			t.Fatalf("filler: %v", err)
		}
	}
	f.Close()
	// Ordinary events are refused, counted, and leave the room to safety.
	refused := 0
	for i := range 20 {
		_, err := o.Append(context.Background(), ClassEvents, payload)
		if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "kept for safety events") {
			t.Fatalf("event %d with the disk nearly full: %v, want it refused for the reserve", i, err)
		}
		refused++
	}
	// Safety events take the reserve until the disk is really full; the
	// one that fails then is counted too.
	stored, failed := 0, 0
	for i := 0; failed == 0 && i < 10000; i++ {
		if _, err := o.Append(context.Background(), ClassSafety, payload); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("safety append %d: %v, want a failed commit for a full disk", i, err)
			}
			failed++
			continue
		}
		stored++
	}
	if stored == 0 || failed == 0 {
		t.Fatalf("%d safety events stored in the reserve, %d failed: want some of each", stored, failed)
	}
	failed += refused
	if got := o.Stats().Dropped; got != uint64(failed) {
		t.Fatalf("Stats().Dropped = %d after %d failed appends", got, failed)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Append(context.Background(), ClassEvents, payload); err != nil {
		t.Fatalf("append once the disk has room: %v", err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o, err = Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if got := o.Stats().Dropped; got != uint64(failed) {
		t.Fatalf("after reopening, %d entries counted as dropped, want %d", got, failed)
	}
	os.Stdout.WriteString("full-disk child: ok\n")
}
