package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palier-lifts/palier/hal/modbus"
)

// FaultKind is a kind of line fault the simulator injects into replies.
type FaultKind string

// The injectable line faults.
const (
	FaultBadCRC     FaultKind = "bad_crc"     // the last CRC byte is flipped
	FaultTruncated  FaultKind = "truncated"   // only the first half of the reply is sent
	FaultSilence    FaultKind = "silence"     // no reply at all
	FaultWrongSlave FaultKind = "wrong_slave" // a well-formed reply from slave id + 1
	FaultException  FaultKind = "exception"   // a "slave device busy" exception reply
)

// AllFaults lists every kind, in a fixed order (the seed depends on it).
func AllFaults() []FaultKind {
	return []FaultKind{FaultBadCRC, FaultTruncated, FaultSilence, FaultWrongSlave, FaultException}
}

// ParseFaultKinds parses a comma-separated list such as "bad_crc,silence";
// "all" or "" means every kind.
func ParseFaultKinds(s string) ([]FaultKind, error) {
	if s == "" || s == "all" {
		return AllFaults(), nil
	}
	var out []FaultKind
	for _, f := range strings.Split(s, ",") {
		k := FaultKind(strings.TrimSpace(f))
		switch k {
		case FaultBadCRC, FaultTruncated, FaultSilence, FaultWrongSlave, FaultException:
			out = append(out, k)
		default:
			return nil, fmt.Errorf("unknown line fault %q (want bad_crc, truncated, silence, wrong_slave, exception or all)", k)
		}
	}
	return out, nil
}

// Config describes the simulated installation.
type Config struct {
	Slave         byte    // Modbus slave id; default 1
	Floors        int     // number of floors, indexed from 0; default 9 (0..8)
	FloorHeightMM int     // default 3000
	CarSpeedMMs   float64 // car speed in mm/s; default 1000
	// Speed is the simulated-time factor: at 10 the car lives ten times
	// faster than the wall clock. Default 1.
	Speed float64
	// Seed makes traffic and line faults reproducible.
	Seed uint64
	// Baud paces the replies at wire speed (request and reply bytes × 11
	// bits / baud, plus the silent interval); 0 replies at once.
	Baud int
	// AlarmRate is the probability, per call of the procedural day, that a
	// passenger presses the alarm button (held 5 to 20 s). 0, the default,
	// never does, and leaves the day of a seed as it was.
	AlarmRate float64
	// Scenario to play; nil plays the procedural day of traffic.
	Scenario *Scenario
	// FaultRate is the probability, per reply, of a line fault.
	FaultRate float64
	// Faults are the kinds drawn from when a fault is injected; empty
	// means all.
	Faults []FaultKind
	// Tick is the wall-clock period of the model loop; default 10 ms.
	Tick time.Duration
}

func (c Config) withDefaults() Config {
	if c.Slave == 0 {
		c.Slave = 1
	}
	if c.Floors == 0 {
		c.Floors = 9
	}
	if c.FloorHeightMM == 0 {
		c.FloorHeightMM = 3000
	}
	if c.CarSpeedMMs == 0 {
		c.CarSpeedMMs = 1000
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if len(c.Faults) == 0 {
		c.Faults = AllFaults()
	}
	if c.Tick <= 0 {
		c.Tick = 10 * time.Millisecond
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Slave == 0 || c.Slave > 247:
		return fmt.Errorf("simulator: slave %d not in 1..247", c.Slave)
	case c.Floors < 2 || c.Floors > 200:
		return fmt.Errorf("simulator: floors %d not in 2..200", c.Floors)
	case c.FloorHeightMM < 500:
		return fmt.Errorf("simulator: floor height %d mm below 500", c.FloorHeightMM)
	case c.CarSpeedMMs <= 0:
		return fmt.Errorf("simulator: car speed %g mm/s must be positive", c.CarSpeedMMs)
	case c.Speed <= 0:
		return fmt.Errorf("simulator: speed factor %g must be positive", c.Speed)
	case c.Baud < 0:
		return fmt.Errorf("simulator: baud %d negative", c.Baud)
	case c.FaultRate < 0 || c.FaultRate > 1:
		return fmt.Errorf("simulator: fault rate %g not in 0..1", c.FaultRate)
	case c.AlarmRate < 0 || c.AlarmRate > 1:
		return fmt.Errorf("simulator: alarm rate %g not in 0..1", c.AlarmRate)
	}
	if c.Scenario != nil {
		return c.Scenario.Validate(c.Floors)
	}
	return nil
}

// Stats counts what the simulated slave saw and did.
type Stats struct {
	Requests uint64 // well-formed requests addressed to us
	Replies  uint64 // replies sent (faulty ones included)
	Ignored  uint64 // requests to other slaves, or while powered off
	Garbage  uint64 // bytes runs that were not a request
	Injected map[FaultKind]uint64
}

// Simulator is a simulated elevator controller answering as a Modbus RTU
// slave. Make it with New, serve it with Serve (one port at a time).
type Simulator struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // guards the model and the scenario
	car     *car
	player  *player
	traffic *traffic
	simTime time.Duration

	done     chan struct{}
	doneOnce sync.Once
	serving  atomic.Bool

	faultMu  sync.Mutex
	faultRNG *rand.Rand

	requests, replies, ignored, garbage atomic.Uint64
	injected                            [5]atomic.Uint64
}

// New makes a simulator; it does nothing until Serve.
func New(cfg Config, logger *slog.Logger) (*Simulator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{
		cfg:      cfg,
		log:      logger,
		done:     make(chan struct{}),
		faultRNG: rand.New(rand.NewPCG(cfg.Seed, 0x6661756c7473)),
	}
	start := 0
	if cfg.Scenario != nil {
		start = cfg.Scenario.StartFloor
		s.player = &player{s: cfg.Scenario}
	} else {
		s.traffic = newTraffic(cfg.Seed)
		s.traffic.alarmRate = cfg.AlarmRate
	}
	s.car = newCar(cfg.Floors, cfg.FloorHeightMM, cfg.CarSpeedMMs, start)
	// Steps at time zero (initial fault, mode...) apply before any poll.
	s.advance(0)
	return s, nil
}

// Done is closed when the scripted scenario has played its last step (the
// car then stays as the scenario left it), or after a full simulated day of
// procedural traffic (which then goes on).
func (s *Simulator) Done() <-chan struct{} { return s.done }

// Registers returns the current register map (holding registers 0..10).
func (s *Simulator) Registers() [NumRegs]uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.car.registers()
}

// SimTime is the simulated time elapsed since New.
func (s *Simulator) SimTime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.simTime
}

// Stats returns the counters.
func (s *Simulator) Stats() Stats {
	st := Stats{
		Requests: s.requests.Load(),
		Replies:  s.replies.Load(),
		Ignored:  s.ignored.Load(),
		Garbage:  s.garbage.Load(),
		Injected: map[FaultKind]uint64{},
	}
	for i, k := range AllFaults() {
		st.Injected[k] = s.injected[i].Load()
	}
	return st
}

// advance moves simulated time forward by dt, in steps short enough that
// the car never jumps over a floor.
func (s *Simulator) advance(dt time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	const maxStep = 50 * time.Millisecond
	for {
		d := min(dt, maxStep)
		s.simTime += d
		s.car.step(d)
		finished := false
		if s.player != nil {
			finished = s.player.advance(s.car, d)
		} else {
			finished = s.traffic.advance(s.car, d)
		}
		if finished {
			s.doneOnce.Do(func() {
				s.log.Info("scenario finished", "sim_time", s.simTime)
				close(s.done)
			})
		}
		dt -= d
		if dt <= 0 {
			return
		}
	}
}

// runModel advances the model with the wall clock, scaled by Speed.
func (s *Simulator) runModel(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.advance(time.Duration(float64(now.Sub(last)) * s.cfg.Speed))
			last = now
		}
	}
}

type chunk struct {
	b   []byte
	t   time.Time
	err error
}

// Serve runs the model and answers requests read from port until ctx is
// cancelled (it then returns nil) or the port fails. The caller closes the
// port after Serve returns, which also ends its reading goroutine.
func (s *Simulator) Serve(ctx context.Context, port io.ReadWriter) error {
	if !s.serving.CompareAndSwap(false, true) {
		return errors.New("simulator: already serving a port")
	}
	defer s.serving.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.runModel(ctx)

	chunks := make(chan chunk, 64)
	go func() {
		for {
			b := make([]byte, 512)
			n, err := port.Read(b)
			c := chunk{b: b[:n], t: time.Now(), err: err}
			if n == 0 && err == nil {
				continue
			}
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	// A run of bytes that is not a request is dropped after this silence.
	gap := max(modbus.SilentInterval(s.cfg.Baud), 20*time.Millisecond)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var buf []byte
	var first time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-chunks:
			if len(c.b) > 0 {
				if len(buf) == 0 {
					first = c.t
				}
				buf = append(buf, c.b...)
			}
			if c.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("simulator: read request: %w", c.err)
			}
			// Every read request is 8 bytes: frame on length and CRC.
			for len(buf) >= modbus.RequestLen && modbus.CRC16(buf[:modbus.RequestLen-2]) == uint16(buf[6])|uint16(buf[7])<<8 {
				if err := s.handle(ctx, port, buf[:modbus.RequestLen], first); err != nil {
					return err
				}
				buf = buf[modbus.RequestLen:]
				first = c.t
			}
			if len(buf) > 0 {
				timer.Reset(gap)
			}
		case <-timer.C:
			if len(buf) > 0 {
				s.garbage.Add(1)
				s.log.Debug("dropped bytes that are not a request", "bytes", fmt.Sprintf("% x", buf))
				buf = buf[:0]
			}
		}
	}
}

// handle answers one request frame that arrived at t.
func (s *Simulator) handle(ctx context.Context, port io.Writer, frame []byte, t time.Time) error {
	reply := s.Exchange(frame)
	if reply == nil {
		return nil
	}
	if s.cfg.Baud > 0 {
		// A real slave sees the end of the request after its wire time
		// and a silent interval, then takes the reply's wire time to send.
		due := t.Add(modbus.WireTime(len(frame), s.cfg.Baud) + modbus.SilentInterval(s.cfg.Baud) + modbus.WireTime(len(reply), s.cfg.Baud))
		if d := time.Until(due); d > 0 {
			tm := time.NewTimer(d)
			select {
			case <-ctx.Done():
				tm.Stop()
				return nil
			case <-tm.C:
			}
		}
	}
	if _, err := port.Write(reply); err != nil {
		return fmt.Errorf("simulator: write reply: %w", err)
	}
	s.replies.Add(1)
	return nil
}

// Exchange answers one request frame as the slave would, fault injection
// included, and returns the reply frame, or nil where the slave stays silent
// (another slave's request, garbage, power off, an injected silence). Serve
// uses it and adds the wire timing; with Step it replays a scenario without
// a port or a clock, deterministically.
func (s *Simulator) Exchange(frame []byte) []byte {
	req, err := modbus.DecodeRequest(frame)
	var reply []byte
	var ex *modbus.ExceptionError
	switch {
	case req.Slave != s.cfg.Slave:
		s.ignored.Add(1) // another slave's request (or a broadcast): stay silent
		return nil
	case errors.As(err, &ex):
		reply = modbus.EncodeException(s.cfg.Slave, ex.Function, ex.Code)
	case err != nil:
		s.garbage.Add(1)
		return nil
	}
	s.mu.Lock()
	off := s.car.powerOff > 0
	regs := s.car.registers()
	s.mu.Unlock()
	if off {
		s.ignored.Add(1)
		return nil
	}
	s.requests.Add(1)
	if reply == nil {
		reply = answer(req, regs)
	}
	reply, ok := s.injectFault(req, reply)
	if !ok {
		return nil
	}
	return reply
}

// Step advances simulated time by dt without the wall clock. It is for
// replaying a scenario deterministically (with Exchange), and must not be
// mixed with Serve, which advances time itself.
func (s *Simulator) Step(dt time.Duration) { s.advance(dt) }

// answer builds the reply from the register map: holding and input
// registers 0..10 both hold the map; coils and discrete inputs 0..5 mirror
// the status bits.
func answer(req modbus.Request, regs [NumRegs]uint16) []byte {
	var resp modbus.Response
	end := int(req.Address) + int(req.Count)
	if req.Function.IsBits() {
		if end > 6 {
			return modbus.EncodeException(req.Slave, req.Function, modbus.ExIllegalAddress)
		}
		for i := int(req.Address); i < end; i++ {
			resp.Bits = append(resp.Bits, regs[RegStatus]>>i&1 == 1)
		}
	} else {
		if end > NumRegs {
			return modbus.EncodeException(req.Slave, req.Function, modbus.ExIllegalAddress)
		}
		resp.Registers = append([]uint16(nil), regs[req.Address:end]...)
	}
	b, err := modbus.EncodeResponse(req, resp)
	if err != nil {
		return modbus.EncodeException(req.Slave, req.Function, modbus.ExSlaveFailure)
	}
	return b
}

// injectFault maybe spoils the reply; ok is false when the reply must not
// be sent at all.
func (s *Simulator) injectFault(req modbus.Request, reply []byte) (out []byte, ok bool) {
	if s.cfg.FaultRate == 0 {
		return reply, true
	}
	s.faultMu.Lock()
	hit := s.faultRNG.Float64() < s.cfg.FaultRate
	kind := s.cfg.Faults[s.faultRNG.IntN(len(s.cfg.Faults))]
	s.faultMu.Unlock()
	if !hit {
		return reply, true
	}
	for i, k := range AllFaults() {
		if k == kind {
			s.injected[i].Add(1)
		}
	}
	out = append([]byte(nil), reply...)
	switch kind {
	case FaultBadCRC:
		out[len(out)-1] ^= 0x5A
	case FaultTruncated:
		out = out[:max(1, len(out)/2)]
	case FaultSilence:
		return nil, false
	case FaultWrongSlave:
		out[0] = req.Slave%247 + 1
		c := modbus.CRC16(out[:len(out)-2])
		out[len(out)-2], out[len(out)-1] = byte(c), byte(c>>8)
	case FaultException:
		out = modbus.EncodeException(req.Slave, req.Function, modbus.ExSlaveBusy)
	}
	return out, true
}
