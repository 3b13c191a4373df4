// Package commission is the installer's commissioning session: while the
// installer runs the lift, a Session reads the controller through a Source
// at each poll, feeds the cabin state machine, and tallies what it saw:
// trips and their directions, door cycles and reopens, floors, modes,
// faults, the alarm, and which signals never changed.
//
// Report turns the tally into the wire's commission_report data, with the
// list of what the session did not show (NotSeen), limited to what the
// source can show at all. Save writes the report on the device as a File;
// Queue appends it to the outbox the way the agent appends its events.
//
// The session draws nothing: the command shows Signals, State, Tally and
// LastError after each poll, and prints the report.
package commission
