package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// People's accounts, their login sessions and the audit trail
// (receiver/httpapi checks passwords and roles; the store only keeps them).

// ErrExists is returned when creating an account whose name is taken.
var ErrExists = errors.New("exists already")

// Account is a person who logs in to the API.
type Account struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Sites limits the account to these sites; empty: every site.
	Sites []string `json:"sites"`
	// PasswordHash is the encoded argon2id hash; never shown.
	PasswordHash string    `json:"-"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Session is a login: its id is known only to the browser, the store keeps
// its hash.
type Session struct {
	IDHash   string // hex SHA-256 of the cookie's value
	Account  string
	Created  time.Time
	LastSeen time.Time
}

// AuditEntry is one recorded change or login.
type AuditEntry struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`  // "account:NAME", "token:NAME" or "anonymous"
	Action string    `json:"action"` // e.g. notice.create, login
	Site   string    `json:"site"`   // "" when it concerns no one site
	Target string    `json:"target"` // what was changed, e.g. a notice id
	Detail string    `json:"detail"`
}

// AuditQuery selects a page of the audit trail, newest first.
type AuditQuery struct {
	Site   string // "": every site's and none's
	Before int64  // ids below this; 0: from the newest
	Limit  int    // 1..MaxLimit; 0 means DefaultLimit
}

// Accounts keeps accounts, sessions and the audit trail. Both engines
// implement it beside Store, through SQLAccounts.
type Accounts interface {
	// CreateAccount stores a new account or returns ErrExists.
	CreateAccount(ctx context.Context, a Account) error
	// UpdateAccount replaces an account's role, sites, hash and update
	// time, or returns ErrNotFound.
	UpdateAccount(ctx context.Context, a Account) error
	// DeleteAccount removes an account and its sessions, or returns ErrNotFound.
	DeleteAccount(ctx context.Context, name string) error
	// Account returns one account or ErrNotFound.
	Account(ctx context.Context, name string) (Account, error)
	// ListAccounts lists every account by name.
	ListAccounts(ctx context.Context) ([]Account, error)
	// CreateSession stores a session.
	CreateSession(ctx context.Context, s Session) error
	// Session returns a session by the hash of its id, or ErrNotFound.
	Session(ctx context.Context, idHash string) (Session, error)
	// TouchSession moves a session's last use to at.
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	// DeleteSession ends one session (no error if it is gone already).
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteSessions ends every session of an account, or, account empty,
	// every session last seen before idleBefore or created before
	// createdBefore; it returns how many it ended.
	DeleteSessions(ctx context.Context, account string, idleBefore, createdBefore time.Time) (int64, error)
	// AppendAudit records e (its ID is ignored) and returns its id.
	AppendAudit(ctx context.Context, e AuditEntry) (int64, error)
	// Audit returns a page of the trail, newest first.
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// AccountTables is the migration that makes the accounts, sessions and
// audit tables; idColumn is the engine's auto-numbered primary key.
func AccountTables(idColumn, bigint string) string {
	return `CREATE TABLE accounts (
		name          TEXT PRIMARY KEY,
		role          TEXT NOT NULL,
		sites         TEXT NOT NULL DEFAULT '',
		password_hash TEXT NOT NULL,
		created_us    ` + bigint + ` NOT NULL,
		updated_us    ` + bigint + ` NOT NULL
	);
	CREATE TABLE sessions (
		id_hash    TEXT PRIMARY KEY,
		account    TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
		created_us ` + bigint + ` NOT NULL,
		last_us    ` + bigint + ` NOT NULL
	);
	CREATE INDEX sessions_account ON sessions (account);
	CREATE TABLE audit (
		id      ` + idColumn + `,
		time_us ` + bigint + ` NOT NULL,
		actor   TEXT NOT NULL,
		action  TEXT NOT NULL,
		site    TEXT NOT NULL DEFAULT '',
		target  TEXT NOT NULL DEFAULT '',
		detail  TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX audit_site ON audit (site, id);`
}

// Execer runs an engine's write statements and says how many rows they
// changed.
type Execer interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// SQLAccounts implements Accounts once for both engines: W writes, R
// reads, Numbered turns ? into $n (PostgreSQL), Collate orders names by
// bytes (" COLLATE \"C\"" for PostgreSQL, "" for SQLite).
type SQLAccounts struct {
	W        Execer
	R        Querier // must see W's commits at once
	Numbered bool
	Collate  string
}

func (s SQLAccounts) q(query string) string {
	if s.Numbered {
		return Numbered(query)
	}
	return query
}

func joinSites(sites []string) string { return strings.Join(sites, ",") }

func splitSites(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// CreateAccount implements Accounts.
func (s SQLAccounts) CreateAccount(ctx context.Context, a Account) error {
	n, err := s.W.Exec(ctx, s.q(`INSERT INTO accounts (name, role, sites, password_hash, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`), a.Name, a.Role, joinSites(a.Sites), a.PasswordHash, Micros(a.Created), Micros(a.Created))
	if err != nil {
		return fmt.Errorf("create account %s: %w", a.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("account %s: %w", a.Name, ErrExists)
	}
	return nil
}

// UpdateAccount implements Accounts.
func (s SQLAccounts) UpdateAccount(ctx context.Context, a Account) error {
	n, err := s.W.Exec(ctx, s.q(`UPDATE accounts SET role = ?, sites = ?, password_hash = ?, updated_us = ? WHERE name = ?`),
		a.Role, joinSites(a.Sites), a.PasswordHash, Micros(a.Updated), a.Name)
	if err != nil {
		return fmt.Errorf("update account %s: %w", a.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("account %s: %w", a.Name, ErrNotFound)
	}
	return nil
}

// DeleteAccount implements Accounts. Sessions go first: SQLite enforces
// foreign keys only when asked to, so the cascade is not relied on.
func (s SQLAccounts) DeleteAccount(ctx context.Context, name string) error {
	if _, err := s.W.Exec(ctx, s.q(`DELETE FROM sessions WHERE account = ?`), name); err != nil {
		return fmt.Errorf("delete account %s: sessions: %w", name, err)
	}
	n, err := s.W.Exec(ctx, s.q(`DELETE FROM accounts WHERE name = ?`), name)
	if err != nil {
		return fmt.Errorf("delete account %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("account %s: %w", name, ErrNotFound)
	}
	return nil
}

const accountColumns = `name, role, sites, password_hash, created_us, updated_us`

func (s SQLAccounts) accounts(ctx context.Context, query string, args ...any) ([]Account, error) {
	out := []Account{}
	err := queryEach(ctx, s.R, s.q(query), args, func(rows Rows) error {
		var a Account
		var sites string
		var created, updated int64
		if err := rows.Scan(&a.Name, &a.Role, &sites, &a.PasswordHash, &created, &updated); err != nil {
			return err
		}
		a.Sites, a.Created, a.Updated = splitSites(sites), FromMicros(created), FromMicros(updated)
		out = append(out, a)
		return nil
	})
	return out, err
}

// Account implements Accounts.
func (s SQLAccounts) Account(ctx context.Context, name string) (Account, error) {
	as, err := s.accounts(ctx, `SELECT `+accountColumns+` FROM accounts WHERE name = ?`, name)
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", name, err)
	}
	if len(as) == 0 {
		return Account{}, fmt.Errorf("account %s: %w", name, ErrNotFound)
	}
	return as[0], nil
}

// ListAccounts implements Accounts.
func (s SQLAccounts) ListAccounts(ctx context.Context) ([]Account, error) {
	as, err := s.accounts(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY name`+s.Collate)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return as, nil
}

// CreateSession implements Accounts.
func (s SQLAccounts) CreateSession(ctx context.Context, se Session) error {
	if _, err := s.W.Exec(ctx, s.q(`INSERT INTO sessions (id_hash, account, created_us, last_us) VALUES (?, ?, ?, ?)`),
		se.IDHash, se.Account, Micros(se.Created), Micros(se.LastSeen)); err != nil {
		return fmt.Errorf("create session of %s: %w", se.Account, err)
	}
	return nil
}

// Session implements Accounts.
func (s SQLAccounts) Session(ctx context.Context, idHash string) (Session, error) {
	var out []Session
	err := queryEach(ctx, s.R, s.q(`SELECT id_hash, account, created_us, last_us FROM sessions WHERE id_hash = ?`), []any{idHash}, func(rows Rows) error {
		var se Session
		var created, last int64
		if err := rows.Scan(&se.IDHash, &se.Account, &created, &last); err != nil {
			return err
		}
		se.Created, se.LastSeen = FromMicros(created), FromMicros(last)
		out = append(out, se)
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", err)
	}
	if len(out) == 0 {
		return Session{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	return out[0], nil
}

// TouchSession implements Accounts.
func (s SQLAccounts) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	if _, err := s.W.Exec(ctx, s.q(`UPDATE sessions SET last_us = ? WHERE id_hash = ?`), Micros(at), idHash); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession implements Accounts.
func (s SQLAccounts) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.W.Exec(ctx, s.q(`DELETE FROM sessions WHERE id_hash = ?`), idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessions implements Accounts.
func (s SQLAccounts) DeleteSessions(ctx context.Context, account string, idleBefore, createdBefore time.Time) (int64, error) {
	var n int64
	var err error
	if account != "" {
		n, err = s.W.Exec(ctx, s.q(`DELETE FROM sessions WHERE account = ?`), account)
	} else {
		n, err = s.W.Exec(ctx, s.q(`DELETE FROM sessions WHERE last_us < ? OR created_us < ?`), Micros(idleBefore), Micros(createdBefore))
	}
	if err != nil {
		return 0, fmt.Errorf("delete sessions: %w", err)
	}
	return n, nil
}

// AppendAudit implements Accounts.
func (s SQLAccounts) AppendAudit(ctx context.Context, e AuditEntry) (int64, error) {
	var id int64
	err := queryEach(ctx, s.readWriter(), s.q(`INSERT INTO audit (time_us, actor, action, site, target, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		[]any{Micros(e.Time), e.Actor, e.Action, e.Site, e.Target, e.Detail}, func(rows Rows) error { return rows.Scan(&id) })
	if err != nil {
		return 0, fmt.Errorf("append audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return id, nil
}

// readWriter gives the writer's RETURNING statements to queryEach: an
// engine's Execer that also queries is used as is.
func (s SQLAccounts) readWriter() Querier {
	if q, ok := s.W.(Querier); ok {
		return q
	}
	return s.R
}

// Audit implements Accounts.
func (s SQLAccounts) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return nil, fmt.Errorf("audit: limit %d (want 1 to %d)", q.Limit, MaxLimit)
	}
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	query := `SELECT id, time_us, actor, action, site, target, detail FROM audit WHERE id < ?`
	args := []any{before}
	if q.Site != "" {
		query += ` AND site = ?`
		args = append(args, q.Site)
	}
	query += ` ORDER BY id DESC LIMIT ` + strconv.Itoa(q.Limit)
	out := []AuditEntry{}
	err := queryEach(ctx, s.R, s.q(query), args, func(rows Rows) error {
		var e AuditEntry
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Site, &e.Target, &e.Detail); err != nil {
			return err
		}
		e.Time = FromMicros(t)
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return out, nil
}
