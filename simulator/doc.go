// Package simulator is a simulated elevator controller: a Modbus RTU slave
// that answers the register map of sensors/profiles/palier-sim.yaml.
//
// Concepts:
//   - The car model: floors (0..N-1, 3000 mm apart), a car moving at a
//     configured speed, the door cycle (opening, open, closing, blocked),
//     mode, fault code, alarm, load, calls and a trip counter. It advances
//     only in simulated time, so tests drive it without sleeping.
//   - Scenarios: a YAML list of steps (call, wait, reopen, fault_raise,
//     fault_clear, alarm, mode, stop_between_floors, resume, power_loss,
//     load, door_blocked, wait_idle), or, without one, a procedural day of
//     traffic. Done is closed when a scenario has played its last step.
//   - Speed: simulated time runs Speed times faster than the wall clock.
//   - Line faults: with FaultRate, a reply is spoiled (bad CRC, truncated,
//     silence, wrong slave id, busy exception), chosen from the Seed.
//   - Pacing: replies leave at the wire time of the configured baud, so a
//     pty behaves like a real line.
//   - PTY: a raw pseudo-terminal pair whose slave path stands in for a
//     serial device.
package simulator
