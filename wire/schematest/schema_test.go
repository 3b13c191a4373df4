package schematest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/palier-lifts/palier/sensors"
	"github.com/palier-lifts/palier/wire"
)

// Paths from this package's directory, where go test runs the tests.
const (
	schemaDir = "../../docs/schema"
	eventsDoc = "../../docs/EVENTS.md"
	wireDir   = ".."
	rootDir   = "../.."
)

// The schemas, one per message.
const (
	batchSchema    = "batch"
	ackSchema      = "ack"
	stateSchema    = "state"
	noticesSchema  = "notices"
	alarmAckSchema = "alarm_ack"
	configSchema   = "config"
	updateSchema   = "update"
	credSchema     = "credential"
)

var schemaNames = []string{batchSchema, ackSchema, stateSchema, noticesSchema, alarmAckSchema, configSchema, updateSchema, credSchema}

func schemaPath(name string) string { return filepath.Join(schemaDir, name+".schema.json") }

// compiled compiles the four schemas once, asserting "format" (date-time)
// as a validator may but need not.
var compiled = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	out := make(map[string]*jsonschema.Schema, len(schemaNames))
	for _, name := range schemaNames {
		sch, err := c.Compile(schemaPath(name))
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", schemaPath(name), err)
		}
		out[name] = sch
	}
	return out, nil
})

// validate validates a JSON message against the named schema.
func validate(t *testing.T, name string, msg []byte) error {
	t.Helper()
	schemas, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, msg)
	}
	return schemas[name].Validate(inst)
}

// leafLocations returns the JSON pointers of the values that a validation
// error finally blames, sorted and without repeats.
func leafLocations(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, pointer(e.InstanceLocation))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(out)
	return slices.Compact(out)
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, tok := range tokens {
		b.WriteString("/" + tok)
	}
	return b.String()
}

// schemaDoc reads a schema file as plain JSON, to look into it.
func schemaDoc(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaPath(name))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", schemaPath(name), err)
	}
	return doc
}

// resolve follows a local reference such as "#/$defs/event" in doc.
func resolve(t *testing.T, doc map[string]any, ref string) map[string]any {
	t.Helper()
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#"), "/")[1:] {
		next, ok := cur[tok].(map[string]any)
		if !ok {
			t.Fatalf("schema has nothing at %s", ref)
		}
		cur = next
	}
	return cur
}

// kindOf says which schema a message belongs to, by its fields.
func kindOf(msg []byte) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(msg, &fields); err != nil {
		return "", fmt.Errorf("not a JSON object: %v", err)
	}
	has := func(name string) bool { _, ok := fields[name]; return ok }
	switch {
	case has("events"):
		return batchSchema, nil
	case has("notices"):
		return noticesSchema, nil
	case has("floor") && has("doors"):
		return stateSchema, nil
	case has("alarms") && has("by"):
		return alarmAckSchema, nil
	case has("config") && has("version"):
		return configSchema, nil
	case has("version") && has("channel"):
		return updateSchema, nil
	case has("epoch") && has("seq"):
		return ackSchema, nil
	case has("jwt") && has("id"):
		return credSchema, nil
	}
	return "", errors.New("neither a batch (events), a notice set (notices), a state (floor, doors), an alarm acknowledgement (alarms, by), a desired configuration (config, version), an update (version, channel), an ack (epoch, seq) nor a credential delivery (jwt, id)")
}

// goDecode decodes a message with package wire's decoder for its kind;
// a batch as a receiver does, which accepts event types it does not know.
func goDecode(kind string, msg []byte) error {
	var err error
	switch kind {
	case batchSchema:
		_, err = wire.DecodeBatchForward(msg)
	case ackSchema:
		_, err = wire.DecodeAck(msg)
	case stateSchema:
		_, err = wire.DecodeState(msg)
	case noticesSchema:
		_, err = wire.DecodeNoticeSet(msg)
	case alarmAckSchema:
		_, err = wire.DecodeAlarmAck(msg)
	case configSchema:
		_, err = wire.DecodeDesiredConfig(msg)
	case updateSchema:
		_, err = wire.DecodeUpdate(msg)
	case credSchema:
		_, err = wire.DecodeCredentialDelivery(msg)
	}
	return err
}

type docBlock struct {
	line int // of the opening fence, from 1
	text []byte
}

// jsonBlocks returns the fenced ```json blocks of a Markdown file.
func jsonBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []docBlock
	var cur *docBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```json":
			cur = &docBlock{line: n}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text = append(cur.text, line+"\n"...)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s line %d: the json block is never closed", path, cur.line)
	}
	return blocks
}

// TestDocExamplesValidate checks every json example of docs/EVENTS.md
// against the schema of its message, and against the Go decoder.
func TestDocExamplesValidate(t *testing.T) {
	blocks := jsonBlocks(t, eventsDoc)
	seen := map[string]int{}
	for _, b := range blocks {
		kind, err := kindOf(b.text)
		if err != nil {
			t.Errorf("EVENTS.md line %d: a json block that matches no schema: %v", b.line, err)
			continue
		}
		seen[kind]++
		schemaErr := validate(t, kind, b.text)
		goErr := goDecode(kind, b.text)
		if schemaErr == nil && goErr == nil {
			continue
		}
		if schemaErr != nil {
			t.Errorf("EVENTS.md line %d: the %s example does not validate against %s: %v", b.line, kind, schemaPath(kind), schemaErr)
		}
		if goErr != nil {
			t.Errorf("EVENTS.md line %d: the %s example is refused by package wire: %v", b.line, kind, goErr)
		}
	}
	for _, kind := range schemaNames {
		if seen[kind] == 0 {
			t.Errorf("EVENTS.md has no json example of a %s message (found %d json blocks)", kind, len(blocks))
		}
	}
}

// TestDocBlocksAreFound checks the reading of EVENTS.md on a made-up
// document: blocks are found with the line of their fence, and a block
// that is no message of the schema is told apart.
func TestDocBlocksAreFound(t *testing.T) {
	md := filepath.Join(t.TempDir(), "doc.md")
	doc := "# Doc\n\n```json\n{\"v\": 1, \"epoch\": \"e\", \"seq\": 3}\n```\n\n```\nnot json\n```\n\n  ```json\n{\"v\": 1, \"flavour\": \"vanilla\"}\n  ```\n"
	if err := os.WriteFile(md, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	blocks := jsonBlocks(t, md)
	if len(blocks) != 2 || blocks[0].line != 3 || blocks[1].line != 11 {
		t.Fatalf("blocks %+v, want two, at lines 3 and 11", blocks)
	}
	if kind, err := kindOf(blocks[0].text); kind != ackSchema || err != nil {
		t.Errorf("first block: %q, %v; want an ack", kind, err)
	}
	if kind, err := kindOf(blocks[1].text); err == nil {
		t.Errorf("second block taken for a %s message", kind)
	}
}

// sample is realistic data of one event type, as the agent writes it.
type sample struct {
	typ  string
	data any
}

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 120_000_000, time.UTC)

// samples has one event of every type package wire knows.
var samples = []sample{
	{wire.TypeArrival, wire.ArrivalData{Floor: 4}},
	{wire.TypeTrip, wire.TripData{From: 0, To: 4, Direction: wire.DirectionUp, DurationMS: 9150}},
	{wire.TypeDoorCycle, wire.DoorCycleData{Floor: 4, Door: "A", OpenMS: 5200, Reopens: 1}},
	{wire.TypeDirectionChange, wire.DirectionChangeData{From: wire.DirectionNone, To: wire.DirectionUp}},
	{wire.TypeModeChange, wire.ModeChangeData{From: wire.ModeNormal, To: wire.ModeInspection}},
	{wire.TypeFault, wire.FaultData{Code: 31, Text: "Door lock circuit open", Severity: wire.SeverityError, Active: true}},
	{wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 2}},
	{wire.TypeEntrapment, wire.EntrapmentData{Active: true, Reason: sensors.ReasonOutsideDoorZone, Floor: 2}},
	{wire.TypeService, wire.ServiceData{InService: false, Reason: sensors.ReasonNoMovement}},
	{wire.TypeHeartbeat, wire.HeartbeatData{Counters: wire.Counters{Trips: 1204, DoorCycles: 1377, DirectionChanges: 611, RunningSeconds: 20512, IdleSeconds: 80011, StandbySeconds: 3400}}},
	{wire.TypeHealth, wire.HealthData{UptimeSeconds: 86400, PollErrorRate: 0.002, OutboxDepth: 12, OldestPendingAgeS: 3.5, Evictions: 2, Quarantined: 1}},
	{wire.TypeOutboxReset, wire.OutboxResetData{Reason: "invalid page type", MovedTo: "/var/lib/palier/outbox.db.damaged-20261124T090000Z", PrevEpoch: "j2h8w1lp6b"}},
	{wire.TypeDoorOpenTooLong, wire.DoorOpenTooLongData{Floor: 0, OpenMS: 120_000}},
	{wire.TypeTripTooLong, wire.TripTooLongData{From: 3, Direction: wire.DirectionDown, DurationMS: 90_000}},
	{wire.TypeLevellingError, wire.LevellingErrorData{Floor: 4, ErrorMM: -23}},
	{wire.TypeDropped, wire.DroppedData{Reason: "invalid event: data.floor: has JSON string, want int"}},
	{wire.TypeCommissionReport, wire.CommissionReportData{
		Started: t0.Add(-20 * time.Minute), DurationS: 1200.5, Source: "profiles/kone-kcm831.yaml",
		Polls: 6000, PollErrors: 3, Trips: 12, DoorCycles: 14, Reopens: 2,
		Floors: []int{-1, 0, 1, 2, 3, 4}, Directions: []string{wire.DirectionDown, wire.DirectionUp},
		Modes: []string{wire.ModeInspection, wire.ModeNormal}, Faults: []int{31},
		Alarm: true, Entrapment: false, Unchanged: []string{"overload"}, NotSeen: []string{"an entrapment"},
	}},
	{wire.TypeLost, wire.LostData{Reason: wire.LostEvicted, Ranges: []wire.Range{{3, 5}, {9, 9}}, Count: 4, Bytes: 812,
		Classes: map[string]uint64{"telemetry": 3, "events": 1}}},
	{wire.TypeAlarmAcknowledged, wire.AlarmAcknowledgedData{Epoch: "k3v9x2mq7c", Seq: 4812, By: "Chiara (permanence)", At: t0.Add(-time.Minute)}},
	{wire.TypeConfigApplied, wire.ConfigAppliedData{SiteVersion: 4, CabinVersion: 2, Restart: true, Changed: []string{"controller.profile", "events.trip_too_long"}}},
	{wire.TypeConfigRefused, wire.ConfigRefusedData{Scope: wire.ConfigScopeCabin, Version: 3, Problems: []string{"events.trip_too_long: machine config: trip_too_long is -1m0s (want a positive duration)"}}},
	{wire.TypeConfigRolledBack, wire.ConfigRolledBackData{FromSite: 4, FromCabin: 3, SiteVersion: 4, CabinVersion: 2, Reason: "controller link lost for 2m0s after applying (grace 2m0s)"}},
	{wire.TypeUpdateApplied, wire.UpdateData{From: "v1.4.0", To: "v1.4.1", Wave: 7}},
	{wire.TypeUpdateFailed, wire.UpdateData{From: "v1.4.0", To: "v1.4.1", Wave: 7, Reason: "apt-get: E: Version '1.4.1' for 'palier-agent' was not found"}},
	{wire.TypeUpdateRolledBack, wire.UpdateData{From: "v1.4.1", To: "v1.4.2", Wave: 8, Reason: "no health verdict from 1.4.2 within 300s"}},
	{wire.TypeCredentialRotated, wire.CredentialRotatedData{ID: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4", Previous: "UAHJLSMRZSFOCBNIHYBPFTZMDKW3LBMR6IYQL5YUH3SLUASV4SLKBXN7", Expires: t0.Add(90 * 24 * time.Hour)}},
	{wire.TypeNoticeShown, wire.NoticeShownData{Notice: "ag-2026", Version: 12, Lang: wire.LangFR, Layout: "1024x600", Orientation: wire.OrientationLandscape, From: t0, To: t0.Add(time.Minute), ShownMS: 18000, Times: 3}},
}

func event(t *testing.T, seq uint64, s sample) wire.Event {
	t.Helper()
	ev, err := wire.NewEvent(t0, s.typ, s.data)
	if err != nil {
		t.Fatal(err)
	}
	ev.Seq = seq
	return ev
}

func batch(events ...wire.Event) wire.Batch {
	return wire.Batch{V: wire.Version, Site: "les-pins", Cabin: "a", Epoch: "k3v9x2mq7c", Events: events}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonField describes the JSON field of a struct field, as encoding/json
// names it; ok is false for a field it leaves out.
func jsonField(f reflect.StructField) (name string, optional, ok bool) {
	tag := f.Tag.Get("json")
	if !f.IsExported() || tag == "-" {
		return "", false, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	for _, o := range strings.Split(opts, ",") {
		if o == "omitempty" || o == "omitzero" {
			optional = true
		}
	}
	return name, optional, true
}

// TestGoPayloadsValidate checks what the Go code writes against the schema.
func TestGoPayloadsValidate(t *testing.T) {
	t.Run("an event of each type", func(t *testing.T) {
		for i, s := range samples {
			b := mustMarshal(t, batch(event(t, uint64(100+i), s)))
			if err := validate(t, batchSchema, b); err != nil {
				t.Errorf("%s: %v\n%s", s.typ, err, b)
			}
			if _, err := wire.DecodeBatch(b); err != nil {
				t.Errorf("%s: the sample is not even valid Go-side: %v", s.typ, err)
			}
		}
	})
	t.Run("a batch of every type", func(t *testing.T) {
		var events []wire.Event
		for i, s := range samples {
			events = append(events, event(t, uint64(100+i), s))
		}
		b := batch(events...)
		b.AckRanges = true
		msg := mustMarshal(t, b)
		if err := validate(t, batchSchema, msg); err != nil {
			t.Errorf("%v\n%s", err, msg)
		}
		if _, err := wire.DecodeBatch(msg); err != nil {
			t.Errorf("package wire refuses its own batch: %v", err)
		}
	})
	t.Run("desired configuration", func(t *testing.T) {
		str := func(s string) *string { return &s }
		num := func(f float64) *float64 { return &f }
		profile, err := os.ReadFile(filepath.Join(rootDir, "sensors/profiles/palier-sim.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for name, d := range map[string]wire.DesiredConfig{
			"site, empty": {V: wire.Version, Site: "les-pins", Version: 1, At: t0},
			"cabin, every block": {V: wire.Version, Site: "les-pins", Cabin: "a", Version: 3, At: t0, By: "Chiara", Config: wire.ConfigOverlay{
				Controller: &wire.ControllerOverlay{PollInterval: str("250ms"), Profile: str(string(profile))},
				Events:     &wire.EventsOverlay{TripTooLong: str("2m"), Debounce: str("1m30s"), MaxFloorsPerSecond: num(3), FloorLevelsMM: []int64{0, 3000}},
				Outbox:     &wire.OutboxOverlay{MaxBytes: new(int64)},
				Uplink:     &wire.UplinkOverlay{RateLimit: num(50)},
				LogLevel:   str("debug"),
			}},
		} {
			if d.Config.Outbox != nil {
				*d.Config.Outbox.MaxBytes = 32 << 20
			}
			msg := mustMarshal(t, d)
			if err := validate(t, configSchema, msg); err != nil {
				t.Errorf("%s: %v\n%s", name, err, msg)
			}
			if _, err := wire.DecodeDesiredConfig(msg); err != nil {
				t.Errorf("%s: package wire refuses its own configuration: %v", name, err)
			}
		}
	})
	t.Run("ack", func(t *testing.T) {
		for _, a := range []wire.Ack{
			{V: wire.Version, Epoch: "k3v9x2mq7c", Seq: 43},
			{V: wire.Version, Epoch: "k3v9x2mq7c", Seq: 43, Stored: []wire.Range{{45, 47}, {50, 50}}},
			{V: wire.Version, Epoch: "k3v9x2mq7c", Seq: 0, Stored: []wire.Range{{2, 2}}},
		} {
			msg := mustMarshal(t, a)
			if err := validate(t, ackSchema, msg); err != nil {
				t.Errorf("%v\n%s", err, msg)
			}
			if _, err := wire.DecodeAck(msg); err != nil {
				t.Errorf("package wire refuses its own ack: %v\n%s", err, msg)
			}
		}
	})
	t.Run("state", func(t *testing.T) {
		pos := int64(12000)
		states := map[string]wire.State{
			"moving": {V: wire.Version, Site: "les-pins", Cabin: "a", Time: t0, Floor: 4, PositionMM: &pos,
				Direction: wire.DirectionUp, Moving: true, DoorZone: false, Doors: []string{wire.DoorClosed, wire.DoorClosed},
				Mode: wire.ModeNormal, Faults: []int{31}, Alarm: true, Entrapment: true, InService: false,
				Link: sensors.LinkStateOK, Uplink: true,
				Counters: wire.Counters{Trips: 1204, DoorCycles: 1377, DirectionChanges: 611, RunningSeconds: 20512, IdleSeconds: 80011, StandbySeconds: 3400}},
			// What the agent serves before its first sample: no mode yet,
			// no time, no doors.
			"at start": func() wire.State {
				s := sensors.NewMachine(sensors.MachineConfig{}, wire.Counters{}).State().ToWire("les-pins", "a")
				s.Link = sensors.LinkStateLost
				return s
			}(),
		}
		for name, s := range states {
			msg := mustMarshal(t, s)
			if err := validate(t, stateSchema, msg); err != nil {
				t.Errorf("%s: %v\n%s", name, err, msg)
			}
			if _, err := wire.DecodeState(msg); err != nil {
				t.Errorf("%s: package wire refuses its own state: %v", name, err)
			}
		}
	})
	t.Run("notices", func(t *testing.T) {
		until := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		sets := map[string]wire.NoticeSet{
			"empty": {V: wire.Version, Site: "les-pins", Version: 1, Notices: []wire.Notice{}},
			"full": {V: wire.Version, Site: "les-pins", Version: 12, Notices: []wire.Notice{{
				ID: "water-cut-dec", Category: wire.CategoryWater, Priority: wire.PriorityUrgent,
				Title:     wire.Text{FR: "Coupure d'eau", EN: "Water cut", IT: "Interruzione dell'acqua"},
				Body:      wire.Text{FR: "Mardi 1er décembre de 9h à 12h."},
				ValidFrom: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), ValidUntil: &until,
				Media: []wire.Media{{URL: "https://palier.example/media/3f2a", SHA256: strings.Repeat("3f2a", 16), Type: "image/png", Size: 48213}},
			}, {
				ID: "ag-2027", Category: wire.CategoryAssembly, Priority: wire.PriorityNormal,
				Title: wire.Text{FR: "Assemblée générale"}, Body: wire.Text{FR: "Le 12 janvier à 18h, salle commune."},
				ValidFrom: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC),
			}, {
				ID: "cleaning", Category: wire.CategoryCleaning, Priority: wire.PriorityLow,
				Title: wire.Text{FR: "Nettoyage du hall"}, Body: wire.Text{FR: "Merci de ne pas marcher sur le sol mouillé."},
				ValidFrom: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), ValidUntil: &until,
				Schedule: &wire.Schedule{Days: []string{"mon", "tue", "wed", "thu", "fri"},
					Hours: []wire.Window{{From: "08:00", To: "10:00"}, {From: "22:00", To: "24:00"}}},
			}, {
				ID: "weekend", Category: wire.CategoryGeneral, Priority: wire.PriorityLow,
				Title: wire.Text{FR: "Week-end"}, Body: wire.Text{FR: "Gardien absent."},
				ValidFrom: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
				Schedule:  &wire.Schedule{Days: []string{"sat", "sun"}},
			}}},
		}
		for name, s := range sets {
			msg := mustMarshal(t, s)
			if err := validate(t, noticesSchema, msg); err != nil {
				t.Errorf("%s: %v\n%s", name, err, msg)
			}
			if _, err := wire.DecodeNoticeSet(msg); err != nil {
				t.Errorf("%s: package wire refuses its own notice set: %v", name, err)
			}
		}
	})
}

// goEventTypes returns the values of the Type* string constants of package
// wire, read from its source: a type added there is seen here even if
// nobody adds it to samples or to the schema.
func goEventTypes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(wireDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Type") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						types = append(types, v)
					}
				}
			}
		}
	}
	if len(types) == 0 {
		t.Fatalf("found no Type* constants in %s", wireDir)
	}
	slices.Sort(types)
	return types
}

// schemaEventTypes returns the event types whose data the batch schema
// checks: the "if" of each entry of the event's allOf, whose "then" must
// refer to the type's data definition.
func schemaEventTypes(t *testing.T) []string {
	t.Helper()
	doc := schemaDoc(t, batchSchema)
	ev := resolve(t, doc, "#/$defs/event")
	all, _ := ev["allOf"].([]any)
	var types []string
	for i, entry := range all {
		e, _ := entry.(map[string]any)
		var cond struct {
			If struct {
				Properties struct {
					Type struct {
						Const string `json:"const"`
					} `json:"type"`
				} `json:"properties"`
			} `json:"if"`
			Then struct {
				Properties struct {
					Data struct {
						Ref string `json:"$ref"`
					} `json:"data"`
				} `json:"properties"`
			} `json:"then"`
		}
		if err := json.Unmarshal(mustMarshal(t, e), &cond); err != nil {
			t.Fatal(err)
		}
		typ := cond.If.Properties.Type.Const
		if typ == "" {
			t.Errorf("$defs/event/allOf/%d is no if type == ... then data ... entry", i)
			continue
		}
		if want := "#/$defs/" + typ + "_data"; cond.Then.Properties.Data.Ref != want {
			t.Errorf("$defs/event/allOf/%d: type %q checks data against %q, want %q", i, typ, cond.Then.Properties.Data.Ref, want)
		}
		types = append(types, typ)
	}
	slices.Sort(types)
	return types
}

// TestSchemaKnowsEveryGoType checks that the schema, the samples above and
// package wire know the same event types.
func TestSchemaKnowsEveryGoType(t *testing.T) {
	goTypes := goEventTypes(t)
	schemaTypes := schemaEventTypes(t)
	var sampled []string
	for _, s := range samples {
		sampled = append(sampled, s.typ)
	}
	slices.Sort(sampled)
	for _, typ := range goTypes {
		if !wire.KnownType(typ) {
			t.Errorf("package wire declares type %q but wire.KnownType does not know it", typ)
		}
		if !slices.Contains(schemaTypes, typ) {
			t.Errorf("event type %q of package wire has no entry in %s ($defs/event/allOf and $defs/%s_data)", typ, schemaPath(batchSchema), typ)
		}
		if !slices.Contains(sampled, typ) {
			t.Errorf("event type %q of package wire has no sample in this test", typ)
		}
	}
	for _, typ := range schemaTypes {
		if !slices.Contains(goTypes, typ) {
			t.Errorf("%s checks event type %q, which package wire does not know", schemaPath(batchSchema), typ)
		}
	}
	if n := len(slices.Compact(slices.Clone(sampled))); n != len(sampled) {
		t.Errorf("samples has a type twice: %v", sampled)
	}
}

// requiredAnyway are properties the schema requires although the Go field
// is omitempty: the data of a known type cannot be left out, and EVENTS.md
// wants an object for the data of an unknown one.
var requiredAnyway = map[string]bool{"wire.Event.data": true}

// TestSchemaMatchesGoStructs checks that each object of the schema has the
// JSON fields of its Go type as properties, and requires exactly those the
// Go code always writes (no omitempty).
func TestSchemaMatchesGoStructs(t *testing.T) {
	type pair struct {
		schema, ref string
		goType      reflect.Type
	}
	pairs := []pair{
		{batchSchema, "#", reflect.TypeFor[wire.Batch]()},
		{batchSchema, "#/$defs/event", reflect.TypeFor[wire.Event]()},
		{batchSchema, "#/$defs/counters", reflect.TypeFor[wire.Counters]()},
		{ackSchema, "#", reflect.TypeFor[wire.Ack]()},
		{stateSchema, "#", reflect.TypeFor[wire.State]()},
		{stateSchema, "#/properties/counters", reflect.TypeFor[wire.Counters]()},
		{noticesSchema, "#", reflect.TypeFor[wire.NoticeSet]()},
		{noticesSchema, "#/$defs/notice", reflect.TypeFor[wire.Notice]()},
		{noticesSchema, "#/$defs/title", reflect.TypeFor[wire.Text]()},
		{noticesSchema, "#/$defs/body", reflect.TypeFor[wire.Text]()},
		{noticesSchema, "#/$defs/media", reflect.TypeFor[wire.Media]()},
		{noticesSchema, "#/$defs/schedule", reflect.TypeFor[wire.Schedule]()},
		{noticesSchema, "#/$defs/window", reflect.TypeFor[wire.Window]()},
		{alarmAckSchema, "#", reflect.TypeFor[wire.AlarmAck]()},
		{alarmAckSchema, "#/$defs/alarm_ref", reflect.TypeFor[wire.AlarmRef]()},
		{configSchema, "#", reflect.TypeFor[wire.DesiredConfig]()},
		{configSchema, "#/$defs/overlay", reflect.TypeFor[wire.ConfigOverlay]()},
		{configSchema, "#/$defs/controller", reflect.TypeFor[wire.ControllerOverlay]()},
		{configSchema, "#/$defs/events", reflect.TypeFor[wire.EventsOverlay]()},
		{configSchema, "#/$defs/outbox", reflect.TypeFor[wire.OutboxOverlay]()},
		{configSchema, "#/$defs/uplink", reflect.TypeFor[wire.UplinkOverlay]()},
		{updateSchema, "#", reflect.TypeFor[wire.Update]()},
		{credSchema, "#", reflect.TypeFor[wire.CredentialDelivery]()},
	}
	for _, s := range samples {
		pairs = append(pairs, pair{batchSchema, "#/$defs/" + s.typ + "_data", reflect.TypeOf(s.data)})
	}
	docs := map[string]map[string]any{}
	for _, name := range schemaNames {
		docs[name] = schemaDoc(t, name)
	}
	for _, p := range pairs {
		obj := resolve(t, docs[p.schema], p.ref)
		where := p.schema + ".schema.json " + p.ref
		props, _ := obj["properties"].(map[string]any)
		if obj["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties is not false", where)
		}
		var required []string
		req, _ := obj["required"].([]any)
		for _, r := range req {
			required = append(required, r.(string))
		}
		goFields := map[string]bool{}
		for i := range p.goType.NumField() {
			name, optional, ok := jsonField(p.goType.Field(i))
			if !ok {
				continue
			}
			goFields[name] = true
			key := p.goType.String() + "." + name
			if _, ok := props[name]; !ok {
				t.Errorf("%s has no property %q, a field of %s", where, name, p.goType)
			}
			if want := !optional || requiredAnyway[key]; want != slices.Contains(required, name) {
				t.Errorf("%s: %q required is %v, want %v (%s's field has omitempty: %v)", where, name, !want, want, p.goType, optional)
			}
		}
		for name := range props {
			if !goFields[name] {
				t.Errorf("%s has property %q, which %s does not have", where, name, p.goType)
			}
		}
	}
}

// envelope wraps events (JSON) in a valid batch.
func envelope(events ...string) string {
	return `{"v":1,"site":"les-pins","cabin":"a","epoch":"k3v9x2mq7c","events":[` + strings.Join(events, ",") + `]}`
}

const (
	trip     = `{"seq":41,"time":"2026-11-24T09:00:00.120Z","type":"trip","data":{"from":0,"to":4,"direction":"up","duration_ms":9150}}`
	lostFmt  = `{"seq":50,"time":"2026-11-24T09:00:00Z","type":"lost","data":%s}`
	goodLost = `{"reason":"missing","ranges":[[3,5],[9,9]],"count":4}`
)

func lost(data string) string { return fmt.Sprintf(lostFmt, data) }

// TestSchemaRefusesAndAccepts checks what the schema must refuse, naming
// the value it blames, and the forward compatibility it must keep.
func TestSchemaRefusesAndAccepts(t *testing.T) {
	const passes = "passes"
	for _, c := range []struct {
		name, schema, msg string
		refuseAt          string // the JSON pointer of a value blamed ("" the message), or passes
	}{
		{"a valid batch", batchSchema, envelope(trip), passes},
		{"an agent that understands ranges", batchSchema, strings.Replace(envelope(trip), `"v":1,`, `"v":1,"ack_ranges":true,`, 1), passes},
		{"an unknown field in a known type's data", batchSchema, envelope(strings.Replace(trip, `"duration_ms":9150`, `"duration_ms":9150,"energy_wh":12.5`, 1)), "/events/0/data"},
		{"a known type without a required field", batchSchema, envelope(strings.Replace(trip, `,"duration_ms":9150`, ``, 1)), "/events/0/data"},
		{"a known type with a field of the wrong type", batchSchema, envelope(strings.Replace(trip, `"from":0`, `"from":"0"`, 1)), "/events/0/data/from"},
		{"a known type without data", batchSchema, envelope(strings.Replace(trip, `,"data":{"from":0,"to":4,"direction":"up","duration_ms":9150}`, ``, 1)), "/events/0"},
		{"version 2", batchSchema, strings.Replace(envelope(trip), `"v":1`, `"v":2`, 1), "/v"},
		{"no version", batchSchema, strings.Replace(envelope(trip), `"v":1,`, ``, 1), ""},
		{"a site id with a capital and a space", batchSchema, strings.Replace(envelope(trip), `"les-pins"`, `"Les Pins"`, 1), "/site"},
		{"a site id of 65 characters", batchSchema, strings.Replace(envelope(trip), `"les-pins"`, `"`+strings.Repeat("a", 65)+`"`, 1), "/site"},
		{"a cabin id with an underscore", batchSchema, strings.Replace(envelope(trip), `"cabin":"a"`, `"cabin":"a_b"`, 1), "/cabin"},
		{"an unknown envelope field", batchSchema, strings.Replace(envelope(trip), `"v":1,`, `"v":1,"agent_build":"v1.4.0",`, 1), ""},
		{"no events", batchSchema, envelope(), "/events"},
		{"sequence 0", batchSchema, envelope(strings.Replace(trip, `"seq":41`, `"seq":0`, 1)), "/events/0/seq"},
		{"a time that is not RFC 3339", batchSchema, envelope(strings.Replace(trip, `2026-11-24T09:00:00.120Z`, `24/11/2026 09:00`, 1)), "/events/0/time"},
		{"an unknown type with object data", batchSchema, envelope(trip, `{"seq":42,"time":"2026-11-24T09:00:04Z","type":"door_obstruction","data":{"floor":3,"door":"front","duration_ms":1800}}`), passes},
		{"an unknown type with empty data", batchSchema, envelope(`{"seq":42,"time":"2026-11-24T09:00:04Z","type":"door_obstruction","data":{}}`), passes},
		{"an unknown type with array data", batchSchema, envelope(`{"seq":42,"time":"2026-11-24T09:00:04Z","type":"door_obstruction","data":[3]}`), "/events/0/data"},
		{"an unknown type that is no type name", batchSchema, envelope(`{"seq":42,"time":"2026-11-24T09:00:04Z","type":"Door-Obstruction","data":{}}`), "/events/0/type"},
		{"a type name of 41 characters", batchSchema, envelope(`{"seq":42,"time":"2026-11-24T09:00:04Z","type":"` + strings.Repeat("x", 41) + `","data":{}}`), "/events/0/type"},
		{"a mode the schema does not know", batchSchema, envelope(`{"seq":42,"time":"2026-11-24T09:00:04Z","type":"mode_change","data":{"from":"normal","to":"party"}}`), "/events/0/data/to"},
		{"a lost report", batchSchema, envelope(lost(goodLost)), passes},
		{"a lost report with bytes and classes", batchSchema, envelope(lost(`{"reason":"evicted","ranges":[[3,5]],"count":3,"bytes":0,"classes":{"telemetry":2,"events":1}}`)), passes},
		{"a lost report refused by the receiver is not sent", batchSchema, envelope(lost(strings.Replace(goodLost, `"missing"`, `"refused"`, 1))), "/events/0/data/reason"},
		{"a lost report without ranges", batchSchema, envelope(lost(`{"reason":"missing","ranges":[],"count":4}`)), "/events/0/data/ranges"},
		{"a lost report from sequence 0", batchSchema, envelope(lost(`{"reason":"missing","ranges":[[0,5]],"count":6}`)), "/events/0/data/ranges/0/0"},
		{"a lost range of three", batchSchema, envelope(lost(`{"reason":"missing","ranges":[[3,5,7]],"count":3}`)), "/events/0/data/ranges/0"},
		{"a lost report of 0 sequences", batchSchema, envelope(lost(`{"reason":"missing","ranges":[[3,5]],"count":0}`)), "/events/0/data/count"},
		{"a lost report of an unknown class", batchSchema, envelope(lost(`{"reason":"missing","ranges":[[3,5]],"count":3,"classes":{"misc":3}}`)), "/events/0/data/classes"},
		{"a lost report of more than 1048576 sequences", batchSchema, envelope(lost(`{"reason":"missing","ranges":[[1,1048577]],"count":1048577}`)), "/events/0/data/count"},
		{"a lost report of 1001 ranges", batchSchema, envelope(lost(`{"reason":"missing","ranges":[` + strings.Repeat(`[1,1],`, 1000) + `[1,1]],"count":1001}`)), "/events/0/data/ranges"},

		{"an ack", ackSchema, `{"v":1,"epoch":"k3v9x2mq7c","seq":43}`, passes},
		{"an ack of nothing yet, with ranges", ackSchema, `{"v":1,"epoch":"k3v9x2mq7c","seq":0,"stored":[[5,9],[12,12]]}`, passes},
		{"an ack of version 2", ackSchema, `{"v":2,"epoch":"k3v9x2mq7c","seq":43}`, "/v"},
		{"an ack with a bad epoch", ackSchema, `{"v":1,"epoch":"K3V9","seq":43}`, "/epoch"},
		{"an ack with a range of one number", ackSchema, `{"v":1,"epoch":"k3v9x2mq7c","seq":43,"stored":[[45]]}`, "/stored/0"},
		{"an ack with a range from 0", ackSchema, `{"v":1,"epoch":"k3v9x2mq7c","seq":43,"stored":[[0,45]]}`, "/stored/0/0"},

		{"a state of version 2", stateSchema, `{"v":2}`, "/v"},
		{"a notice with a schedule", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{"days":["mon"],"hours":[{"from":"08:00","to":"10:00"},{"from":"22:00","to":"24:00"}]}`, 1), passes},
		{"a schedule of hours only", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{"hours":[{"from":"00:00","to":"01:00"}]}`, 1), passes},
		{"an empty schedule", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{}`, 1), "/notices/0/schedule"},
		{"a schedule of empty lists", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{"days":[],"hours":[]}`, 1), "/notices/0/schedule/days"},
		{"a schedule with an unknown day", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{"days":["mon","Tue"]}`, 1), "/notices/0/schedule/days/1"},
		{"a schedule with a day twice", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{"days":["mon","mon"]}`, 1), "/notices/0/schedule/days"},
		{"a window from 24:00", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{"hours":[{"from":"24:00","to":"24:00"}]}`, 1), "/notices/0/schedule/hours/0/from"},
		{"a window to 9:00", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{"hours":[{"from":"08:00","to":"9:00"}]}`, 1), "/notices/0/schedule/hours/0/to"},
		{"five windows", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{"hours":[{"from":"01:00","to":"02:00"},{"from":"03:00","to":"04:00"},{"from":"05:00","to":"06:00"},{"from":"07:00","to":"08:00"},{"from":"09:00","to":"10:00"}]}`, 1), "/notices/0/schedule/hours"},
		{"a schedule with weeks", noticesSchema, strings.Replace(`{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"fr":"Travaux"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z","schedule":SCHED}]}`, "SCHED", `{"days":["mon"],"weeks":[1]}`, 1), "/notices/0/schedule"},
		{"a notice set with a notice in German only", noticesSchema, `{"v":1,"site":"les-pins","version":3,"notices":[{"id":"n","category":"works","priority":"low","title":{"de":"Arbeiten"},"body":{"fr":"x"},"valid_from":"2026-11-28T00:00:00Z"}]}`, "/notices/0/title"},
	} {
		err := validate(t, c.schema, []byte(c.msg))
		switch {
		case c.refuseAt == passes:
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		case err == nil:
			t.Errorf("%s: validates, want refused at %s", c.name, c.refuseAt)
		case !slices.Contains(leafLocations(err), c.refuseAt):
			t.Errorf("%s: refused at %v, want at %s: %v", c.name, leafLocations(err), c.refuseAt, err)
		}
	}
}

// TestValidateFiles validates the payloads named in PALIER_SCHEMA_FILES
// (paths separated by spaces, relative to the repository's root), each
// against the schema of its kind; see docs/schema/README.md.
func TestValidateFiles(t *testing.T) {
	paths := strings.Fields(os.Getenv("PALIER_SCHEMA_FILES"))
	if len(paths) == 0 {
		t.Skip("PALIER_SCHEMA_FILES is not set")
	}
	for _, path := range paths {
		if !filepath.IsAbs(path) {
			path = filepath.Join(rootDir, path)
		}
		msg, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			continue
		}
		kind, err := kindOf(msg)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if err := validate(t, kind, msg); err != nil {
			t.Errorf("%s: does not validate against %s: %v", path, schemaPath(kind), err)
			continue
		}
		t.Logf("%s: a valid %s message", path, kind)
	}
}
