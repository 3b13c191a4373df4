package uplink

import "context"

// DialForTest opens and closes one session with cfg, returning the error.
func DialForTest(ctx context.Context, cfg Config, site, cabin string) error {
	o, err := cfg.dialOptions(site, cabin)
	if err != nil {
		return err
	}
	c, err := dialMQTT311(ctx, o)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}
