package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/palier-lifts/palier/atomicfile"
)

// protocolFile is the name, under the state directory, of the file that
// remembers which MQTT version the broker accepted.
const protocolFile = "uplink-protocol.json"

// protocolMemory is what auto detection found, for one broker URL.
type protocolMemory struct {
	Broker   string `json:"broker"`
	Protocol string `json:"protocol"`
}

// decodeProtocolMemory reads the memory file's bytes; anything odd is an
// error, and the caller then detects again.
func decodeProtocolMemory(b []byte) (protocolMemory, error) {
	var m protocolMemory
	if len(b) > 4<<10 {
		return m, fmt.Errorf("%d bytes is too large", len(b))
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, err
	}
	if m.Protocol != Protocol311 && m.Protocol != Protocol5 {
		return m, fmt.Errorf("protocol %q unknown", m.Protocol)
	}
	if m.Broker == "" {
		return m, errors.New("broker missing")
	}
	return m, nil
}

// loadProtocol returns the version remembered for broker in dir, or "".
func loadProtocol(dir, broker string) (string, error) {
	if dir == "" {
		return "", nil
	}
	path := filepath.Join(dir, protocolFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	m, err := decodeProtocolMemory(b)
	if err != nil {
		return "", fmt.Errorf("decode %s: %w", path, err)
	}
	if m.Broker != broker {
		return "", nil // detected for another broker
	}
	return m.Protocol, nil
}

// saveProtocol remembers the version broker accepted, atomically.
func saveProtocol(dir, broker, protocol string) error {
	if dir == "" {
		return nil
	}
	b, err := json.Marshal(protocolMemory{Broker: broker, Protocol: protocol})
	if err != nil {
		return fmt.Errorf("encode protocol memory: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, protocolFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save protocol memory: %w", err)
	}
	return nil
}

// otherProtocol is the version auto falls back to.
func otherProtocol(p string) string {
	if p == Protocol5 {
		return Protocol311
	}
	return Protocol5
}

// connect opens a session with the configured protocol. With auto it tries
// the version remembered for this broker (MQTT 5 when nothing is known, so
// a broker that speaks both gets 5), falls back to the other one when the
// broker refuses the version, and remembers what worked.
func (u *Uplink) connect(ctx context.Context, o DialOptions) (Conn, error) {
	if u.cfg.Protocol != ProtocolAuto {
		return u.dialers[u.cfg.Protocol](ctx, o)
	}
	u.protoMu.Lock()
	first := u.proto
	u.protoMu.Unlock()
	if first == "" {
		first = Protocol5
	}
	conn, err := u.dialers[first](ctx, o)
	if err != nil && errors.Is(err, ErrProtocol) && ctx.Err() == nil {
		u.logger.Info("broker refused the MQTT version, trying the other", "refused", first, "trying", otherProtocol(first), "answer", err)
		conn, err = u.dialers[otherProtocol(first)](ctx, o)
	}
	if err != nil {
		return nil, err
	}
	u.protoMu.Lock()
	changed := u.proto != conn.Protocol()
	u.proto = conn.Protocol()
	u.protoMu.Unlock()
	if changed {
		u.logger.Info("broker protocol detected", "protocol", conn.Protocol())
		if err := saveProtocol(u.StateDir, u.cfg.Broker, conn.Protocol()); err != nil {
			u.logger.Warn("cannot remember the broker protocol", "err", err)
		}
	}
	return conn, nil
}

// Protocol is the MQTT version in use or last detected: "3.1.1", "5", or ""
// before the first session with protocol auto.
func (u *Uplink) Protocol() string {
	if u.cfg.Protocol != ProtocolAuto {
		return u.cfg.Protocol
	}
	u.protoMu.Lock()
	defer u.protoMu.Unlock()
	return u.proto
}
