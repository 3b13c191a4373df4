package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/httpapi"
	"github.com/palier-lifts/palier/receiver/store"
)

const accountsUsage = `usage:
  accounts add --config FILE --name NAME --role ROLE [--site SITE]...   create an account; its password is read on stdin
  accounts passwd --config FILE --name NAME                             set a new password, read on stdin; ends its sessions
  accounts remove --config FILE --name NAME                             remove an account and its sessions
  accounts list --config FILE                                           list the accounts
roles: read, operator, manager (needs --site), admin
`

// siteList is a repeatable --site flag.
type siteList []string

func (s *siteList) String() string     { return strings.Join(*s, ",") }
func (s *siteList) Set(v string) error { *s = append(*s, v); return nil }

// accounts runs "receiver accounts ...", people's accounts kept in the
// receiver's store: the way to make the first admin. It returns the exit
// code: 0 done, 1 failed, 2 usage.
func accounts(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, accountsUsage)
		return 2
	}
	fs := flag.NewFlagSet("accounts "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the receiver's config file (YAML): where its store is")
	name := fs.String("name", "", "the account's name, e.g. marie.dupont")
	role := fs.String("role", "", "read, operator, manager or admin")
	var sites siteList
	fs.Var(&sites, "site", "a site the account is limited to (repeat for several)")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		fmt.Fprint(stderr, accountsUsage)
		return 2
	}
	cmd := args[0]
	switch {
	case cmd != "add" && cmd != "passwd" && cmd != "remove" && cmd != "list":
		fmt.Fprint(stderr, accountsUsage)
		return 2
	case *configPath == "":
		fmt.Fprintln(stderr, "accounts: --config is required (the receiver's config file, which says where its store is)")
		return 2
	case cmd != "list" && *name == "":
		fmt.Fprintln(stderr, "accounts: --name is required")
		return 2
	}
	cfg, err := receiver.ParseFile(*configPath)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "accounts: %s: %v\n", *configPath, err)
		return 1
	}
	if cmd == "add" {
		if e := httpapi.CheckAccount(*name, *role, sites); e != nil {
			fmt.Fprintf(stderr, "accounts: %s: %s\n", flagOf(e.Param), e.Error)
			return 2
		}
	}
	st, err := receiver.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "accounts: open the store: %v\n", err)
		return 1
	}
	defer st.Close()
	acc, ok := st.(store.Accounts)
	if !ok {
		fmt.Fprintf(stderr, "accounts: the %T store keeps no accounts\n", st)
		return 1
	}
	if err := runAccounts(ctx, acc, cmd, *name, *role, sites, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "accounts:", err)
		return 1
	}
	if cmd != "list" && !cfg.HTTP.Accounts {
		fmt.Fprintf(stderr, "accounts: note: %s has no http.accounts: true; nobody can log in until it does\n", *configPath)
	}
	return 0
}

func flagOf(param string) string {
	if strings.HasPrefix(param, "sites") {
		return "--site"
	}
	return "--" + param
}

func runAccounts(ctx context.Context, acc store.Accounts, cmd, name, role string, sites []string, stdin io.Reader, stdout io.Writer) error {
	now := time.Now().UTC()
	actor := "command:" + os.Getenv("USER")
	switch cmd {
	case "list":
		list, err := acc.ListAccounts(ctx)
		if err != nil {
			return err
		}
		for _, a := range list {
			s := "every site"
			if len(a.Sites) > 0 {
				s = strings.Join(a.Sites, ",")
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", a.Name, a.Role, s)
		}
		return nil
	case "remove":
		old, err := acc.Account(ctx, name)
		if err != nil {
			return err
		}
		if err := acc.DeleteAccount(ctx, name); err != nil {
			return err
		}
		audit(ctx, acc, actor, "account.remove", old.Sites, name, "")
		fmt.Fprintf(stdout, "removed %s\n", name)
		return nil
	}
	pw, err := readPassword(stdin)
	if err != nil {
		return err
	}
	h, err := httpapi.HashPassword(pw, httpapi.DefaultArgon2)
	if err != nil {
		return err
	}
	if cmd == "add" {
		if sites == nil {
			sites = []string{}
		}
		a := store.Account{Name: name, Role: role, Sites: sites, PasswordHash: h, Created: now, Updated: now}
		if err := acc.CreateAccount(ctx, a); errors.Is(err, store.ErrExists) {
			return fmt.Errorf("account %s exists (passwd sets its password; the API's PUT /api/v1/accounts/%s its role)", name, name)
		} else if err != nil {
			return err
		}
		audit(ctx, acc, actor, "account.create", sites, name, "role "+role)
		fmt.Fprintf(stdout, "added %s (%s)\n", name, role)
		return nil
	}
	a, err := acc.Account(ctx, name)
	if err != nil {
		return err
	}
	a.PasswordHash, a.Updated = h, now
	if err := acc.UpdateAccount(ctx, a); err != nil {
		return err
	}
	if _, err := acc.DeleteSessions(ctx, name, time.Time{}, time.Time{}); err != nil {
		return err
	}
	audit(ctx, acc, actor, "account.update", a.Sites, name, "new password")
	fmt.Fprintf(stdout, "new password for %s; its sessions are ended\n", name)
	return nil
}

// readPassword reads one line, the password, and checks it.
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the password on stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if err := httpapi.CheckPassword(pw); err != nil {
		return "", fmt.Errorf("password on stdin: %w", err)
	}
	return pw, nil
}

func audit(ctx context.Context, acc store.Accounts, actor, action string, sites []string, target, detail string) {
	if len(sites) == 0 {
		sites = []string{""}
	}
	for _, s := range sites {
		acc.AppendAudit(ctx, store.AuditEntry{Time: time.Now().UTC(), Actor: actor, Action: action, Site: s, Target: target, Detail: detail})
	}
}
