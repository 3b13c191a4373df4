package sensors

import (
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/configfile"
)

func TestControllerConfigDefaultsAreValidButForTheFiles(t *testing.T) {
	cc := DefaultControllerConfig()
	cc.Profile = "profiles/palier-sim.yaml"
	if errs := configfile.Each(cc.Validate()); len(errs) != 0 {
		t.Fatalf("defaults with a profile: %v", errs)
	}
}

func TestControllerConfigNamesEveryBadField(t *testing.T) {
	cc := DefaultControllerConfig()
	cc.Profile = ""
	cc.Port = ""
	cc.Baud = 3
	cc.DataBits = 9
	cc.Parity = "X"
	cc.StopBits = 3
	cc.ResponseTimeout = time.Minute
	cc.Retries = 11
	cc.PollInterval = time.Hour
	var got []string
	for _, err := range configfile.Each(cc.Validate()) {
		got = append(got, err.Error())
	}
	want := []string{"profile: missing", "port: missing", "baud: 3 is not", "data_bits: 9", `parity: "X"`, "stop_bits: 3",
		"response_timeout: 1m0s out of range", "retries: 11 out of range", "poll_interval: 1h0m0s out of range"}
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d is %q, want it to start with %q", i, got[i], want[i])
		}
	}

	contacts := ControllerConfig{Source: SourceContacts, PollInterval: time.Second}
	if errs := configfile.Each(contacts.Validate()); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "contacts: missing") {
		t.Errorf("contacts source without a map: %v", errs)
	}
	contacts.Contacts = "profiles/contacts/relay-board.yaml"
	if errs := configfile.Each(contacts.Validate()); len(errs) != 0 {
		t.Errorf("contacts source: %v (the serial settings do not apply)", errs)
	}
	if errs := configfile.Each(ControllerConfig{Source: "can", PollInterval: time.Second}.Validate()); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), `source: "can"`) {
		t.Errorf("unknown source: %v", errs)
	}
}

func TestControllerConfigLineSettings(t *testing.T) {
	cc := ControllerConfig{Port: "/dev/ttyX", Baud: 9600, DataBits: 7, Parity: "O", StopBits: 2, RS485: true, EchoSuppression: true,
		ResponseTimeout: 300 * time.Millisecond, Retries: 4}
	sc := cc.SerialConfig()
	if sc.Path != cc.Port || sc.Baud != 9600 || sc.DataBits != 7 || sc.Parity != "O" || sc.StopBits != 2 || !sc.RS485 || !sc.EchoSuppression {
		t.Errorf("serial config %+v does not carry %+v", sc, cc)
	}
	mc := cc.ModbusConfig()
	if mc.Baud != 9600 || mc.ResponseTimeout != 300*time.Millisecond || mc.Retries != 4 {
		t.Errorf("modbus config %+v does not carry %+v", mc, cc)
	}
}
