// Package agent runs one cabin: it polls the controller through a profile,
// feeds the samples to the cabin state machine, appends the events to the
// durable outbox, drains the outbox over the uplink, and serves the live
// state to the cabin screen. cmd/agent parses flags and calls it.
//
//   - Config is the agent's YAML file: DefaultConfig, then LoadConfig (or
//     ParseConfig, Resolve and Validate for a caller editing the file, such
//     as first-boot provisioning). Validate reports every problem as a
//     *configfile.FieldError naming its field.
//   - New checks a Config and opens the outbox; Agent.Run polls, appends and
//     drains until its context ends, then closes everything. Its heartbeat
//     counters (trips, door cycles, running time) persist in the state folder
//     across restarts; Stats and the Prometheus listener (metrics.listen)
//     show how it is doing.
//   - Configuration set from a distance (remote.go, remoteapply.go): the
//     uplink hands over the site's and the cabin's desired configurations;
//     the agent merges them over the file (agentconfig's rules), applies
//     what can change live, returns ErrRestart for the rest (after saving
//     it in state_dir/remote-config.json, which New reads), and goes back
//     to the last good configuration when the controller stays silent past
//     config_grace. EffectiveConfig says what runs and where each value
//     comes from.
package agent
