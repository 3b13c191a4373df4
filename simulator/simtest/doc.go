// Package simtest serves the elevator simulator on a pseudo-terminal for
// tests, the way the agent meets a controller on an RS-485 adapter.
//
// Serve serves a simulator on a new pty until the test ends; Start builds
// the simulator first; Still serves a car standing at floor 4; Master opens
// a Modbus master on the pty's path. Scenario parses a scenario written in
// a test, such as StillYAML or AllSetYAML.
// Everything is closed when the test ends, and a simulator that stopped
// serving with an error fails the test.
package simtest
