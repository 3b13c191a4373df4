// Package sensors knows what the controller's registers and contacts mean.
//
// A Profile is a YAML register map for one controller make: it names each
// signal (floor, direction, doors, mode, faults, alarm...) and where it lives
// on the Modbus bus. A ContactMap does the same for dry contacts on GPIO.
// Either one turns raw readings into a Sample: one consistent reading of the
// cabin at one instant.
//
// The Machine is the cabin state machine: it consumes Samples, drops the
// implausible ones, keeps the cabin State and emits elevator events in the
// vocabulary of the wire package. Time comes from the samples and from an
// injected clock, never from time.Now, so tests do not sleep.
//
// sensors never imports the outbox, MQTT or the screen.
package sensors
