// Package modbus is a read-only Modbus RTU master.
//
// Concepts:
//   - A Request reads one block of a Table (coils, discrete inputs, holding
//     or input registers) from one slave. Only function codes 01, 02, 03 and
//     04 exist here: the agent cannot write to a controller by construction.
//   - Frames are built and decoded by pure functions (EncodeRequest,
//     DecodeResponse, and for the slave side used by the simulator
//     DecodeRequest, EncodeResponse, EncodeException) so they can be
//     golden-tested and fuzzed.
//   - A Master owns one bus (a Port): it keeps the 3.5-character silent
//     interval, waits for a response within a timeout, retries, and counts
//     every kind of failure (Stats). A frame that is short, garbled, from the
//     wrong slave or with a bad CRC never becomes a value.
//   - A slave that leaves several requests in a row unanswered is backed
//     off (ErrSlaveBackedOff) so it does not starve the other slaves.
//   - For installers: LastExchange gives the bytes sent and received, Hint
//     says what a failure means and what to check.
package modbus
