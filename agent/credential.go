package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/palier-lifts/palier/agentcred"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/wire"
)

// credentialPath is where the cabin's credential lives: written by agent
// provision or by a rotation, read at start.
func (a *Agent) credentialPath() string { return filepath.Join(a.cfg.StateDir, "credential.jwt") }

// setupCredential opens the credential store and hooks it to the uplink: a
// credential on disk replaces the password_file's password; new ones
// arrive on the cabin's credential topic. A credential file of another
// cabin stops the agent at start, like an unreadable password file.
func (a *Agent) setupCredential() error {
	var err error
	a.cred, err = agentcred.Open(agentcred.Options{
		Path:     a.credentialPath(),
		Site:     a.cfg.Site,
		Cabin:    a.cfg.Cabin,
		Password: a.up.Password(),
		Append:   a.appendCredentialEvent,
		Logger:   a.logger.With("component", "credential"),
	})
	if err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	if a.cred.Current() != "" {
		a.up.SwitchPassword(a.cred.Password())
	}
	a.up.OnCredential = a.cred.Deliver
	a.up.OnSession = a.cred.SessionUp
	return nil
}

// appendCredentialEvent stores credential_rotated straight in the outbox,
// which is safe from any goroutine; the state machine's counters do not
// travel with it.
func (a *Agent) appendCredentialEvent(ctx context.Context, ev wire.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", ev.Type, err)
	}
	if _, err := a.ob.Append(ctx, outbox.ClassOf(ev.Type), b); err != nil {
		return fmt.Errorf("append %s event: %w", ev.Type, err)
	}
	a.appended.Add(1)
	return nil
}
