package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/wire"
)

// lockedBuffer is a bytes.Buffer the agent's logger and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// agent run exits with RestartExitCode when a configuration set from a
// distance needs a restart (a new profile), after saving it: the next
// start runs it, and agent config show names where it came from.
func TestRunExitsToRestartOntoARemoteProfile(t *testing.T) {
	_, pty := startSim(t)
	srv, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	path := writeConfig(t, pty, "tcp://"+srv.MQTTAddr())

	// The receiver's retained message, there before the agent connects.
	profile, err := os.ReadFile("../../sensors/profiles/palier-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(profile), "name: palier-sim", "name: palier-sim-remote", 1)
	d := wire.DesiredConfig{V: wire.Version, Site: "doc-site", Cabin: "a", Version: 1, At: time.Now().UTC(), By: "test",
		Config: wire.ConfigOverlay{Controller: &wire.ControllerOverlay{Profile: &renamed}}}
	b, _ := json.Marshal(d)
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.MQTTAddr()).SetClientID("receiver-test").SetProtocolVersion(4))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(0)
	if tok := pub.Publish(wire.ConfigTopic("doc-site", "a"), 1, true, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}

	var out, logs lockedBuffer
	code := make(chan int, 1)
	go func() { code <- run([]string{"run", "--config", path}, &out, &logs) }()
	select {
	case c := <-code:
		if c != agent.RestartExitCode {
			t.Fatalf("exit %d, want %d; log:\n%s", c, agent.RestartExitCode, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the agent did not stop to restart; log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "restarting") {
		t.Errorf("the log does not say why it stopped:\n%s", logs.String())
	}

	var show, errOut bytes.Buffer
	if c := run([]string{"config", "show", "--config", path}, &show, &errOut); c != 0 {
		t.Fatalf("config show: exit %d: %s", c, errOut.String())
	}
	state := filepath.Join(filepath.Dir(path), "state")
	if !regexp.MustCompile(`(?m)^controller.profile\s+` + regexp.QuoteMeta(filepath.Join(state, "profiles")) + `/[0-9a-f]{16}\.yaml\s+cabin v1$`).MatchString(show.String()) {
		t.Fatalf("config show after the restart:\n%s%s", show.String(), errOut.String())
	}
}
