package sensors

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/wire"
)

// Table is one of the four Modbus data tables.
type Table string

// The tables a signal can live in.
const (
	TableHolding  Table = "holding"  // holding registers, FC03
	TableInput    Table = "input"    // input registers, FC04
	TableCoil     Table = "coil"     // coils, FC01
	TableDiscrete Table = "discrete" // discrete inputs, FC02
)

func (t Table) function() modbus.Function {
	switch t {
	case TableHolding:
		return modbus.ReadHoldingRegisters
	case TableInput:
		return modbus.ReadInputRegisters
	case TableCoil:
		return modbus.ReadCoils
	case TableDiscrete:
		return modbus.ReadDiscreteInputs
	}
	return 0
}

func (t Table) bits() bool { return t == TableCoil || t == TableDiscrete }

// ValueType is how a register value is encoded.
type ValueType string

// Value types. 32-bit types span two registers, ordered by WordOrder.
const (
	TypeU16 ValueType = "u16"
	TypeI16 ValueType = "i16"
	TypeU32 ValueType = "u32"
	TypeI32 ValueType = "i32"
	TypeF32 ValueType = "f32"
)

func (t ValueType) words() int {
	switch t {
	case TypeU32, TypeI32, TypeF32:
		return 2
	}
	return 1
}

// Word orders of 32-bit values.
const (
	HighWordFirst = "high_first" // big-endian words (ABCD), the default
	LowWordFirst  = "low_first"  // little-endian words (CDAB)
)

// Signal names a profile may map, and what kind of value each is.
const (
	SigFloor         = "floor"          // number: floor index
	SigPositionMM    = "position_mm"    // number: car position in mm
	SigMoving        = "moving"         // bool
	SigDirection     = "direction"      // enum to none/up/down
	SigDirectionUp   = "direction_up"   // bool
	SigDirectionDown = "direction_down" // bool
	SigDoorZone      = "door_zone"      // bool
	SigDoorA         = "door_a"         // enum to wire.Door*
	SigDoorB         = "door_b"         // enum to wire.Door*
	SigMode          = "mode"           // enum to wire.Mode*
	SigFaultCode     = "fault_code"     // number: 0 = no fault
	SigAlarm         = "alarm"          // bool
	SigCallsPending  = "calls_pending"  // bool
	SigLoadPercent   = "load_percent"   // number
	SigTrips         = "trips"          // number: the controller's trip counter
)

type signalKind int

const (
	kindNumber signalKind = iota
	kindBool
	kindEnum
)

// signalKindOf returns the kind of a known signal and the values its enum
// may map to.
func signalKindOf(name string) (signalKind, []string, bool) {
	switch name {
	case SigFloor, SigPositionMM, SigFaultCode, SigLoadPercent, SigTrips:
		return kindNumber, nil, true
	case SigMoving, SigDirectionUp, SigDirectionDown, SigDoorZone, SigAlarm, SigCallsPending:
		return kindBool, nil, true
	case SigDirection:
		return kindEnum, []string{wire.DirectionNone, wire.DirectionUp, wire.DirectionDown}, true
	case SigDoorA, SigDoorB:
		return kindEnum, []string{wire.DoorClosed, wire.DoorOpening, wire.DoorOpen, wire.DoorClosing, wire.DoorBlocked}, true
	case SigMode:
		return kindEnum, []string{wire.ModeNormal, wire.ModeInspection, wire.ModeFireService, wire.ModeOutOfService, wire.ModeOverload, wire.ModeEmergencyPower}, true
	}
	return 0, nil, false
}

func knownSignals() string {
	return "floor, position_mm, moving, direction, direction_up, direction_down, door_zone, door_a, door_b, mode, fault_code, alarm, calls_pending, load_percent, trips"
}

// Signal says where one signal lives and how to decode it.
type Signal struct {
	Name      string
	Slave     byte
	Table     Table
	Address   uint16
	Type      ValueType
	WordOrder string
	Bit       int // -1: the whole value; 0..15: one bit of a register
	Scale     float64
	Offset    float64
	Enum      map[int]string

	req int // index of the request that reads it
	off int // offset in that request's response
}

// Fault describes a controller fault code.
type Fault struct {
	Text     string
	Severity string // wire.Severity*
}

// Profile is a validated register map for one controller make.
type Profile struct {
	Name        string
	Description string
	Source      string // file the profile came from, for messages
	Signals     map[string]*Signal
	Faults      map[int]Fault
	// MaxGap is how many unmapped registers may be read through to merge
	// two requests into one; 0 (the default) merges only contiguous
	// registers, since many controllers refuse reads across holes.
	MaxGap   int
	requests []modbus.Request
}

// Requests are the reads one poll makes: contiguous registers of a slave's
// table grouped into as few requests as the protocol allows.
func (p *Profile) Requests() []modbus.Request { return append([]modbus.Request(nil), p.requests...) }

// Fault returns the fault table entry of code; an unknown code is an
// error-severity fault with no text.
func (p *Profile) Fault(code int) (Fault, bool) {
	f, ok := p.Faults[code]
	if !ok {
		return Fault{Severity: wire.SeverityError}, false
	}
	return f, true
}

// Problem is one thing wrong in a profile.
type Problem struct {
	Signal string // empty for profile-level problems; "faults.N" for the fault table
	Field  string
	Msg    string
}

// ValidationError lists every problem found in a profile at once.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "profile %s: %d problem(s)", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		if p.Signal != "" {
			fmt.Fprintf(&b, "signal %s: ", p.Signal)
		}
		if p.Field != "" {
			fmt.Fprintf(&b, "field %s: ", p.Field)
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// The YAML shape of a profile file. Pointers tell "absent" from zero.
type profileFile struct {
	Name        string                `yaml:"name"`
	Description string                `yaml:"description"`
	Slave       *int                  `yaml:"slave"`
	Table       string                `yaml:"table"`
	MaxGap      *int                  `yaml:"max_gap"`
	Signals     map[string]signalFile `yaml:"signals"`
	Faults      map[int]faultFile     `yaml:"faults"`
}

type signalFile struct {
	Doc       string         `yaml:"doc"`
	Slave     *int           `yaml:"slave"`
	Table     string         `yaml:"table"`
	Address   *int           `yaml:"address"`
	Type      string         `yaml:"type"`
	WordOrder string         `yaml:"word_order"`
	Bit       *int           `yaml:"bit"`
	Scale     *float64       `yaml:"scale"`
	Offset    *float64       `yaml:"offset"`
	Enum      map[int]string `yaml:"enum"`
}

type faultFile struct {
	Text     string `yaml:"text"`
	Severity string `yaml:"severity"`
}

// maxProfileSize bounds what ParseProfile reads: profiles are small.
const maxProfileSize = 1 << 20

// LoadProfile reads and validates a profile file.
func LoadProfile(path string) (*Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	return ParseProfile(path, bytes.NewReader(b))
}

// ParseProfile decodes a profile strictly (an unknown key is an error
// naming it and its line) and validates it; name is used in messages and as
// the profile's name when the file gives none.
func ParseProfile(name string, r io.Reader) (*Profile, error) {
	var f profileFile
	if err := decodeStrict("profile", name, r, &f); err != nil {
		return nil, err
	}
	return f.build(name)
}

func (f *profileFile) build(file string) (*Profile, error) {
	p := &Profile{
		Name:        f.Name,
		Description: f.Description,
		Source:      file,
		Signals:     map[string]*Signal{},
		Faults:      map[int]Fault{},
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	var probs []Problem
	add := func(sig, field, format string, args ...any) {
		probs = append(probs, Problem{Signal: sig, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	defSlave := 1
	if f.Slave != nil {
		defSlave = *f.Slave
		if defSlave < 1 || defSlave > 247 {
			add("", "slave", "%d not in 1..247", defSlave)
		}
	}
	defTable := TableHolding
	if f.Table != "" {
		defTable = Table(f.Table)
		if defTable.function() == 0 {
			add("", "table", "unknown table %q (want holding, input, coil or discrete)", f.Table)
		}
	}
	if f.MaxGap != nil {
		if *f.MaxGap < 0 || *f.MaxGap > 32 {
			add("", "max_gap", "%d not in 0..32", *f.MaxGap)
		} else {
			p.MaxGap = *f.MaxGap
		}
	}
	if len(f.Signals) == 0 {
		add("", "signals", "no signals: a profile maps at least the floor")
	} else if _, ok := f.Signals[SigFloor]; !ok {
		add("", "signals", "no floor signal: every profile must map the floor")
	}
	names := make([]string, 0, len(f.Signals))
	for n := range f.Signals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s, sprobs := buildSignal(n, f.Signals[n], defSlave, defTable)
		probs = append(probs, sprobs...)
		if s != nil {
			p.Signals[n] = s
		}
	}
	if _, ok := f.Signals[SigDirection]; ok {
		if _, up := f.Signals[SigDirectionUp]; up {
			add(SigDirection, "", "map either direction or direction_up/direction_down, not both")
		}
	}
	if _, b := f.Signals[SigDoorB]; b {
		if _, a := f.Signals[SigDoorA]; !a {
			add(SigDoorB, "", "door_b without door_a: map a single door as door_a")
		}
	}
	codes := make([]int, 0, len(f.Faults))
	for c := range f.Faults {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		ff := f.Faults[c]
		where := fmt.Sprintf("faults.%d", c)
		if c <= 0 || c > 0xFFFF {
			add(where, "", "fault code %d not in 1..65535 (0 means no fault)", c)
		}
		if strings.TrimSpace(ff.Text) == "" {
			add(where, "text", "empty: say what the fault is")
		}
		switch ff.Severity {
		case wire.SeverityError, wire.SeveritySelfClearing, wire.SeveritySpecialMode:
		case "":
			add(where, "severity", "missing (want error, self_clearing or special_mode)")
		default:
			add(where, "severity", "unknown severity %q (want error, self_clearing or special_mode)", ff.Severity)
		}
		p.Faults[c] = Fault(ff)
	}
	if len(probs) > 0 {
		return nil, &ValidationError{File: file, Problems: probs}
	}
	p.requests = group(p.Signals, p.MaxGap)
	return p, nil
}

func buildSignal(name string, sf signalFile, defSlave int, defTable Table) (*Signal, []Problem) {
	var probs []Problem
	add := func(field, format string, args ...any) {
		probs = append(probs, Problem{Signal: name, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	kind, enumValues, ok := signalKindOf(name)
	if !ok {
		add("", "unknown signal (want one of %s)", knownSignals())
		return nil, probs
	}
	s := &Signal{Name: name, Table: defTable, Type: TypeU16, WordOrder: HighWordFirst, Bit: -1, Scale: 1}
	slave := defSlave
	if sf.Slave != nil {
		slave = *sf.Slave
	}
	if slave < 1 || slave > 247 {
		add("slave", "%d not in 1..247", slave)
	}
	s.Slave = byte(slave)
	if sf.Table != "" {
		s.Table = Table(sf.Table)
		if s.Table.function() == 0 {
			add("table", "unknown table %q (want holding, input, coil or discrete)", sf.Table)
		}
	}
	if sf.Address == nil {
		add("address", "missing")
	} else if *sf.Address < 0 || *sf.Address > 0xFFFF {
		add("address", "%d not in 0..65535", *sf.Address)
	} else {
		s.Address = uint16(*sf.Address)
	}
	if s.Table.bits() {
		if kind != kindBool {
			add("table", "%s is a number or state, it cannot live in the %s table (one bit)", name, s.Table)
		}
		for _, f := range []struct {
			set  bool
			name string
		}{{sf.Type != "", "type"}, {sf.WordOrder != "", "word_order"}, {sf.Bit != nil, "bit"}, {sf.Scale != nil, "scale"}, {sf.Offset != nil, "offset"}, {sf.Enum != nil, "enum"}} {
			if f.set {
				add(f.name, "not allowed for a %s signal (a single bit)", s.Table)
			}
		}
		return s, probs
	}
	if sf.Type != "" {
		s.Type = ValueType(sf.Type)
		switch s.Type {
		case TypeU16, TypeI16, TypeU32, TypeI32, TypeF32:
		default:
			add("type", "unknown type %q (want u16, i16, u32, i32 or f32)", sf.Type)
		}
	}
	if sf.Address != nil && *sf.Address >= 0 && *sf.Address+s.Type.words() > 0x10000 {
		add("address", "%d: a %s does not fit below 65536", s.Address, s.Type)
	}
	if sf.WordOrder != "" {
		if s.Type.words() != 2 {
			add("word_order", "only for 32-bit types (u32, i32, f32), not %s", s.Type)
		}
		switch sf.WordOrder {
		case HighWordFirst, LowWordFirst:
			s.WordOrder = sf.WordOrder
		default:
			add("word_order", "unknown word order %q (want high_first or low_first)", sf.WordOrder)
		}
	}
	if sf.Bit != nil {
		switch {
		case s.Type != TypeU16:
			add("bit", "bits are taken from u16 registers, not %s", s.Type)
		case *sf.Bit < 0 || *sf.Bit > 15:
			add("bit", "%d not in 0..15", *sf.Bit)
		default:
			s.Bit = *sf.Bit
		}
		if kind != kindBool {
			add("bit", "%s is not a yes/no signal", name)
		}
	}
	if sf.Scale != nil {
		if kind != kindNumber {
			add("scale", "only numbers are scaled, %s is not one", name)
		} else if *sf.Scale == 0 {
			add("scale", "0 would erase the value")
		}
		s.Scale = *sf.Scale
	}
	if sf.Offset != nil {
		if kind != kindNumber {
			add("offset", "only numbers take an offset, %s is not one", name)
		}
		s.Offset = *sf.Offset
	}
	switch {
	case kind == kindEnum && len(sf.Enum) == 0:
		add("enum", "missing: map each register value to one of %s", strings.Join(enumValues, ", "))
	case kind != kindEnum && sf.Enum != nil:
		add("enum", "%s is not a state signal, it takes no enum", name)
	case kind == kindEnum:
		if s.Type == TypeF32 {
			add("type", "an enum register cannot be f32")
		}
		keys := make([]int, 0, len(sf.Enum))
		for k := range sf.Enum {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		for _, k := range keys {
			v := sf.Enum[k]
			if !contains(enumValues, v) {
				add(fmt.Sprintf("enum.%d", k), "unknown value %q (want one of %s)", v, strings.Join(enumValues, ", "))
			}
		}
		s.Enum = sf.Enum
	}
	return s, probs
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// group plans the requests: per slave and table, registers that touch or
// overlap (or leave at most maxGap registers between them) are read
// together, up to the protocol's limit per request.
func group(signals map[string]*Signal, maxGap int) []modbus.Request {
	type span struct {
		s          *Signal
		start, end int // inclusive
	}
	type key struct {
		slave byte
		table Table
	}
	byKey := map[key][]span{}
	for _, s := range signals {
		w := 1
		if !s.Table.bits() {
			w = s.Type.words()
		}
		k := key{s.Slave, s.Table}
		byKey[k] = append(byKey[k], span{s, int(s.Address), int(s.Address) + w - 1})
	}
	keys := make([]key, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].slave != keys[j].slave {
			return keys[i].slave < keys[j].slave
		}
		return keys[i].table < keys[j].table
	})
	var reqs []modbus.Request
	for _, k := range keys {
		spans := byKey[k]
		sort.Slice(spans, func(i, j int) bool {
			if spans[i].start != spans[j].start {
				return spans[i].start < spans[j].start
			}
			return spans[i].s.Name < spans[j].s.Name
		})
		limit := modbus.MaxRegisters
		if k.table.bits() {
			limit = modbus.MaxBits
		}
		cur := -1
		start, end := 0, 0
		var members []*Signal
		flush := func() {
			if cur < 0 {
				return
			}
			reqs = append(reqs, modbus.Request{Slave: k.slave, Function: k.table.function(), Address: uint16(start), Count: uint16(end - start + 1)})
			for _, m := range members {
				m.req, m.off = len(reqs)-1, int(m.Address)-start
			}
			members = members[:0]
		}
		for _, sp := range spans {
			if cur >= 0 && sp.start <= end+1+maxGap && max(end, sp.end)-start+1 <= limit {
				end = max(end, sp.end)
			} else {
				flush()
				cur, start, end = 0, sp.start, sp.end
			}
			members = append(members, sp.s)
		}
		flush()
	}
	return reqs
}

// decodeStrict reads a bounded YAML file of some kind (a profile, a contact
// map) into v (configfile.Decode): unknown keys are refused with their line,
// and an empty file is an error.
func decodeStrict(kind, name string, r io.Reader, v any) error {
	if err := configfile.Decode(r, maxProfileSize, v); err != nil {
		return fmt.Errorf("%s %s: %w", kind, name, err)
	}
	return nil
}
