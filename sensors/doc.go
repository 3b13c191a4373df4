// Package sensors knows what the controller's registers and contacts mean.
//
// A Profile is a YAML register map for one controller make: it names each
// signal (floor, direction, doors, mode, faults, alarm...) and where it lives
// on the Modbus bus. A ContactMap does the same for dry contacts on GPIO.
// Either one turns raw readings into a Sample: one consistent reading of the
// cabin at one instant.
//
// A ControllerConfig is the agent's `controller:` block: which source
// (modbus or contacts), which profile or contact map, and the RS-485 line
// settings (SerialConfig and ModbusConfig copy them for hal, in one place).
// LoadController loads its map once into a Controller, which names it and
// gives the profile's fault texts (FaultInfo); Controller.Open is the one
// constructor of the ControllerSource every command reads through: Modbus
// over a serial port (Resilient for the agent, reopened with backoff) or
// the contact lines (SourceOptions.OpenGPIO for tests). A Source is what
// the agent polls; the installer's tools also ask the ControllerSource for
// every signal as a person reads it (Signals), the contact lines' Levels,
// the last Modbus exchange and a hint after a failure.
//
// The Machine is the cabin state machine: it consumes Samples, drops the
// implausible ones, keeps the cabin State and emits elevator events in the
// vocabulary of the wire package. Time comes from the samples and from an
// injected clock, never from time.Now, so tests do not sleep.
//
// sensors never imports the outbox, MQTT or the screen.
package sensors
