package uplink

import (
	"context"
	"log/slog"
)

// Probe opens one session to the broker with cfg and closes it cleanly,
// for installers' checks (agent doctor). It returns the MQTT version the
// broker accepted, or a *ConnectError that names the cause and what to fix.
// The will is not published, and nothing is remembered.
func Probe(ctx context.Context, cfg Config, site, cabin string) (string, error) {
	o, err := cfg.dialOptions(site, cabin)
	if err != nil {
		return "", err
	}
	u := &Uplink{cfg: cfg, logger: slog.New(slog.DiscardHandler), dialers: defaultDialers()}
	c, err := u.connect(ctx, o)
	if err != nil {
		return "", err
	}
	c.Close()
	return c.Protocol(), nil
}
