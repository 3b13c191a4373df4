// Package fleet plays many simulated cabins against a broker, each with
// the agent's own outbox and uplink, to find how many cabins a broker,
// a receiver and a machine carry, and how a fleet comes back after an
// outage.
//
// # What is real, what is simulated
//
//   - A Cabin is the simulator's car model and procedural day of traffic
//     (simulator.Simulator, stepped in simulated time, no port), read
//     through the palier-sim register profile by a sensors.ProfileReader
//     over an in-process Modbus bus (each poll is a real request frame
//     answered by Simulator.Exchange and decoded), fed to the cabin state
//     machine (sensors.Machine, through sensors.Poller as the agent does).
//     Only the serial line and its wire time are left out.
//   - Its events go, as the agent appends them, into a real bbolt outbox
//     (outbox.Open, one file in a directory per cabin), with the class
//     the agent gives them (safety, events, telemetry) and the counters as
//     the outbox's AppState; health events follow the heartbeat interval.
//   - A real uplink.Uplink per cabin drains it: MQTT session with its last
//     will, retained status and state, capped exponential backoff with
//     jitter, end-to-end acknowledgements from the receiver.
//
// # Time
//
// Simulated time runs TimeFactor times faster than the wall clock, so a
// day of traffic fits in minutes. Every cabin steps its model, and polls
// it every PollInterval of simulated time, to catch up with the wall
// clock each Tick; when the machine cannot keep up, the lag is reported
// (Report.MaxLag): the generator itself is then the bottleneck. The
// simulated clock is set back so that it reaches the wall clock at the
// end of the run: events are never dated in the future.
//
// # Modes
//
//   - ModeDay: cabins connect staggered (ConnectRate a second), play the
//     day for Duration, then stop generating and wait for every outbox
//     to drain.
//   - ModeStorm: the same, but after Warmup every uplink is stopped for
//     Outage while the cabins go on (backlogs build up in the outboxes),
//     then all of them start again at once. The report says how long
//     until every cabin was connected and until every backlog was
//     confirmed end to end.
//
// # Report
//
// Run returns a Report: cabins connected, events appended, sent (PUBACK)
// and confirmed (end to end) and their rates, confirmation latency
// percentiles, storm times, errors by kind (counted from the uplinks' and
// outboxes' own warnings), the process's resident memory, CPU, threads
// and descriptors.
package fleet
