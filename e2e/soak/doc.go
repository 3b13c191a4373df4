// Package soak holds the fault-injection soak test of the whole chain
// (issue #14). It has no code of its own; see soak_test.go.
//
// TestSoak builds the agent, the receiver and the simulator once and runs
// them as real processes, as scripts/demo.sh does: the simulator on a
// pseudo-terminal playing a busy scenario (calls one after the other, door
// reopens, faults, alarms) sped up, the agent reading it over Modbus RTU,
// and the receiver with its embedded NATS (JetStream, MQTT) and SQLite. The
// agent dials the broker through a TCP proxy the test owns, so that the
// link can be cut whatever port the receiver gets at each start.
//
// While traffic flows, faults are drawn from a seeded source:
//
//   - agent-kill: the agent is killed with SIGKILL and started again;
//   - receiver-kill: the receiver is killed with SIGKILL and started again
//     on the same state directory;
//   - link-cut: the proxy refuses the link (connections reset), or lets it
//     fall silent (bytes dropped, the agent's keep-alive must notice);
//   - outbox-full: the link is cut (the proxy, or the receiver down), the
//     stopped agent's outbox is given a backlog of health reports up to its
//     bound, as if the cabin had been offline for hours, and the agent runs
//     on: its own events must push older entries out, which the test checks
//     in the file. The backlog is written because the least
//     outbox.max_bytes the agent accepts is 1 MiB, which the simulator's
//     traffic (1 to 2 KB/s) fills only after minutes of outage.
//
// Then the faults stop and the chain drains: the simulator is replaced by
// a still car and the agent restarted without heartbeat, so that nothing
// new is appended, until the agent's outbox file holds nothing (the file
// is read with the agent stopped). At the end every sequence of every
// epoch must be stored exactly once or accounted for as lost with its
// reason, checked through the receiver's HTTP API:
//
//   - the events, paged: no (epoch, seq) twice; every sequence from 1 to
//     the highest stored or in a "lost" event's ranges; lost events as
//     docs/EVENTS.md describes them (ranges below their own sequence, a
//     count that is theirs, no safety event among them); the agent's last
//     sequence reached; an outbox_reset event in every epoch but the
//     first; the cabin's events count equal to what is served;
//   - the epochs endpoint: contiguous == highest and events + lost ==
//     highest for every epoch, and the same events, highest and losses
//     by reason as the events show. Without the endpoint (404) the test
//     fails saying so.
//
// The counts are logged (go test -v): epochs, events stored, lost by
// reason, agent kills, receiver kills, link cuts, outbox fills, outbox
// resets, and the warnings and errors each process logged.
//
// scripts/test.sh runs the short form (about 70 s of traffic). The long
// form runs the same faults for longer:
//
//	go test ./e2e/soak -run TestSoak -v -timeout 45m -soak.duration=30m
//
// -soak.faults chooses the faults (agent-kill,receiver-kill,link-cut,
// outbox-full, all or none). The seed of the faults and of the scenario
// is logged; PALIER_SOAK_SEED=N replays them (the same draws; the
// processes' own timing still differs from run to run).
//
// The processes' stdout and stderr are kept in files under the test's
// temporary directory, with a line marking each start and kill; on failure
// the test prints the end of each.
package soak
