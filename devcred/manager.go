package devcred

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/palier-lifts/palier/natsauth"
)

// LeafConfig says how to reach a leaf node in operator mode.
type LeafConfig struct {
	NATSURL string      // tls://leaf:4222: the system and PALIER accounts
	MQTTURL string      // ssl://leaf:8883: deliveries
	TLS     *tls.Config // trusts the leaf's certificate
	// TTL of new credentials (default DefaultTTL), Resend of deliveries
	// to cabins that have not reported (default 30 s), Timeout of a
	// rotation (default 30 min).
	TTL, Resend, Timeout time.Duration
}

// ErrRotating is returned by StartRotation for a cabin being rotated.
var ErrRotating = errors.New("a rotation of this cabin is under way")

// Manager rotates and revokes credentials on one leaf node, with users it
// signs itself from the authority: a system user (revocations), a PALIER
// account user (the cabins' reports) and an MQTT service (deliveries).
type Manager struct {
	a      *Authority
	cfg    LeafConfig
	logger *slog.Logger
	sys    *nats.Conn
	events *nats.Conn
	mqtt   mqtt.Client
	revMu  sync.Mutex // one revocation at a time: each rewrites the account JWT
	mu     sync.Mutex
	busy   map[string]bool // site/cabin rotating
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// Connect opens the manager's connections to the leaf, as users it signs
// again at each reconnection.
func Connect(a *Authority, cfg LeafConfig, logger *slog.Logger) (*Manager, error) {
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Resend <= 0 {
		cfg.Resend = 30 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Minute
	}
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	m := &Manager{a: a, cfg: cfg, logger: logger, busy: map[string]bool{}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	// Every (re)connection signs its user afresh, valid an hour: the
	// server closes a session whose JWT expires, and a manager runs for
	// months.
	connect := func(account nkeys.KeyPair, name string) (*nats.Conn, error) {
		nc, err := nats.Connect(cfg.NATSURL, freshUser(account, name), nats.Secure(cfg.TLS),
			nats.Timeout(10*time.Second), nats.Name("palier credentials"), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("connect to the leaf at %s: %w", cfg.NATSURL, err)
		}
		return nc, nil
	}
	var err error
	if m.sys, err = connect(a.System, "palier-credentials"); err != nil {
		return nil, err
	}
	if m.events, err = connect(a.Account, "palier-credentials"); err != nil {
		m.sys.Close()
		return nil, err
	}
	suffix := make([]byte, 5)
	if _, err := rand.Read(suffix); err != nil {
		m.Close()
		return nil, err
	}
	o := mqtt.NewClientOptions().AddBroker(cfg.MQTTURL).SetTLSConfig(cfg.TLS).
		SetClientID("palier_credentials_" + hex.EncodeToString(suffix)).
		SetCredentialsProvider(func() (string, string) {
			c, err := a.IssueService("palier-credentials", []string{"MQTT"}, time.Now(), time.Hour)
			if err != nil {
				logger.Error("sign the MQTT service credential", "err", err)
			}
			return c.Name, c.JWT
		}).
		SetCleanSession(true).SetConnectTimeout(10 * time.Second).SetAutoReconnect(true)
	m.mqtt = mqtt.NewClient(o)
	tok := m.mqtt.Connect()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		m.Close()
		return nil, fmt.Errorf("connect to the leaf's MQTT at %s: %v", cfg.MQTTURL, tok.Error())
	}
	return m, nil
}

// freshUser authenticates as one user of account, whose JWT is signed
// again, valid an hour, at each connection.
func freshUser(account nkeys.KeyPair, name string) nats.Option {
	user, err := nkeys.CreateUser()
	return nats.UserJWT(func() (string, error) {
		if err != nil {
			return "", err
		}
		uc := jwt.NewUserClaims(pub(user))
		uc.Name = name
		uc.Expires = time.Now().Add(time.Hour).Unix()
		uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard)
		return uc.Encode(account)
	}, func(nonce []byte) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		return user.Sign(nonce)
	})
}

// Close stops the rotations under way and closes the connections.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
	if m.mqtt != nil {
		m.mqtt.Disconnect(250)
	}
	if m.events != nil {
		m.events.Close()
	}
	if m.sys != nil {
		m.sys.Close()
	}
}

// Rotate rotates the devices and waits (devcred.Rotate).
func (m *Manager) Rotate(ctx context.Context, devices []natsauth.Device) (RotateResult, error) {
	return m.a.Rotate(ctx, RotateOptions{
		Devices: devices, TTL: m.cfg.TTL, Resend: m.cfg.Resend, Events: m.events, System: m.sys,
		Publish: func(ctx context.Context, topic string, payload []byte) error {
			tok := m.mqtt.Publish(topic, 1, false, payload)
			select {
			case <-tok.Done():
				return tok.Error()
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		revoke: m.Revoke,
	})
}

// StartRotation rotates one cabin in the background, for at most
// LeafConfig.Timeout, and logs how it ended.
func (m *Manager) StartRotation(site, cabin string) error {
	key := site + "/" + cabin
	m.mu.Lock()
	if m.busy[key] {
		m.mu.Unlock()
		return ErrRotating
	}
	m.busy[key] = true
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() { m.mu.Lock(); delete(m.busy, key); m.mu.Unlock() }()
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Timeout)
		defer cancel()
		res, err := m.Rotate(ctx, []natsauth.Device{{Site: site, Cabin: cabin}})
		if err != nil || len(res.Pending) > 0 {
			m.logger.Warn("credential rotation not finished: the cabin keeps its credential until it expires", "cabin", key, "err", err, "result", res)
			return
		}
		m.logger.Info("credential rotated", "cabin", key, "revoked", res.Revoked)
	}()
	return nil
}

// Rotating is the number of rotations under way.
func (m *Manager) Rotating() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.busy)
}

// Revoke revokes credentials by id, one revocation at a time.
func (m *Manager) Revoke(ctx context.Context, ids []string) error {
	m.revMu.Lock()
	defer m.revMu.Unlock()
	return m.a.Revoke(ctx, m.sys, ids, time.Now())
}
