package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
)

func accountsOf(t *testing.T, s store.Store) store.Accounts {
	t.Helper()
	a, ok := s.(store.Accounts)
	if !ok {
		t.Fatalf("%T does not keep accounts (store.Accounts)", s)
	}
	return a
}

// testAccounts: an account is created once, changes, lists in byte order,
// and takes its sessions with it when removed; sessions expire by idle and
// absolute time.
func testAccounts(t *testing.T, s store.Store) {
	st := accountsOf(t, s)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	marie := store.Account{Name: "marie", Role: "manager", Sites: []string{"les-pins", "a-c"}, PasswordHash: "$argon2id$x", Created: t0}
	if err := st.CreateAccount(ctx, marie); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAccount(ctx, marie); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	for _, n := range []string{"ab", "a-c", "zed"} {
		if err := st.CreateAccount(ctx, store.Account{Name: n, Role: "read", PasswordHash: "h", Created: t0}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Account(ctx, "marie")
	if err != nil || got.Role != "manager" || !slices.Equal(got.Sites, []string{"les-pins", "a-c"}) || got.PasswordHash != "$argon2id$x" || !got.Created.Equal(t0) {
		t.Fatalf("Account = %+v, %v", got, err)
	}
	if _, err := st.Account(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	list, err := st.ListAccounts(ctx)
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
	}
	if err != nil || !slices.Equal(names, []string{"a-c", "ab", "marie", "zed"}) {
		t.Fatalf("ListAccounts = %v, %v (want byte order)", names, err)
	}
	if l := list[0]; l.Sites == nil || len(l.Sites) != 0 {
		t.Fatalf("an account of every site has sites %#v, want empty", l.Sites)
	}

	marie.Role, marie.Sites, marie.PasswordHash, marie.Updated = "admin", nil, "$argon2id$y", t0.Add(time.Hour)
	if err := st.UpdateAccount(ctx, marie); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Account(ctx, "marie"); err != nil || got.Role != "admin" || len(got.Sites) != 0 || got.PasswordHash != "$argon2id$y" || !got.Updated.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after update %+v, %v", got, err)
	}
	if err := st.UpdateAccount(ctx, store.Account{Name: "nobody"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of an unknown account: %v", err)
	}

	// Sessions.
	for i, h := range []string{"h1", "h2"} {
		if err := st.CreateSession(ctx, store.Session{IDHash: h, Account: "marie", Created: t0.Add(time.Duration(i) * time.Hour), LastSeen: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateSession(ctx, store.Session{IDHash: "z1", Account: "zed", Created: t0, LastSeen: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchSession(ctx, "h1", t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	se, err := st.Session(ctx, "h1")
	if err != nil || se.Account != "marie" || !se.Created.Equal(t0) || !se.LastSeen.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("Session = %+v, %v", se, err)
	}
	// h2 idle since t0+1h, z1 since t0: an idle bound of t0+30m ends z1
	// only; h1 is old but was used.
	if n, err := st.DeleteSessions(ctx, "", t0.Add(30*time.Minute), t0.Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("idle purge ended %d, %v; want 1", n, err)
	}
	if _, err := st.Session(ctx, "z1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("idle session kept: %v", err)
	}
	// An absolute bound of t0+30m ends h1 (created at t0) though it was used.
	if n, err := st.DeleteSessions(ctx, "", t0, t0.Add(30*time.Minute)); err != nil || n != 1 {
		t.Fatalf("absolute purge ended %d, %v; want 1", n, err)
	}
	if err := st.DeleteSession(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSession(ctx, "h2"); err != nil {
		t.Fatalf("ending a gone session: %v", err)
	}
	if _, err := st.Session(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ended session: %v", err)
	}
	if err := st.CreateSession(ctx, store.Session{IDHash: "h3", Account: "marie", Created: t0, LastSeen: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteAccount(ctx, "marie"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, "h3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a removed account's session: %v", err)
	}
	if err := st.DeleteAccount(ctx, "marie"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// testAudit: entries number themselves, page newest first, and filter by
// site.
func testAudit(t *testing.T, s store.Store) {
	st := accountsOf(t, s)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	var ids []int64
	for i, site := range []string{"les-pins", "", "les-pins", "ab", "les-pins"} {
		id, err := st.AppendAudit(ctx, store.AuditEntry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "account:marie", Action: "notice.create",
			Site: site, Target: "n" + string(rune('0'+i)), Detail: "détail"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Fatalf("id %d after %d", id, ids[len(ids)-1])
		}
		ids = append(ids, id)
	}
	all, err := st.Audit(ctx, store.AuditQuery{})
	if err != nil || len(all) != 5 || all[0].ID != ids[4] || all[4].ID != ids[0] {
		t.Fatalf("Audit = %+v, %v", all, err)
	}
	if e := all[4]; e.Actor != "account:marie" || e.Action != "notice.create" || e.Site != "les-pins" || e.Target != "n0" || e.Detail != "détail" || !e.Time.Equal(t0) {
		t.Fatalf("oldest entry %+v", e)
	}
	page1, err := st.Audit(ctx, store.AuditQuery{Site: "les-pins", Limit: 2})
	if err != nil || len(page1) != 2 || page1[0].Target != "n4" || page1[1].Target != "n2" {
		t.Fatalf("first page of les-pins: %+v, %v", page1, err)
	}
	page2, err := st.Audit(ctx, store.AuditQuery{Site: "les-pins", Limit: 2, Before: page1[1].ID})
	if err != nil || len(page2) != 1 || page2[0].Target != "n0" {
		t.Fatalf("second page of les-pins: %+v, %v", page2, err)
	}
	if _, err := st.Audit(ctx, store.AuditQuery{Limit: store.MaxLimit + 1}); err == nil {
		t.Fatal("a limit above MaxLimit was taken")
	}
}
