// Package gpio reads dry contacts wired to GPIO lines, through periph.io.
//
// Concepts:
//   - A line is a periph gpio.PinIn: on the cabin hardware it comes from
//     the GPIO character device driver (Open, by line name); in tests it is
//     a periph gpiotest.Pin.
//   - An Input is one contact on a line: pull resistor, polarity (active
//     low for a contact to ground with a pull-up) and debounce.
//   - Debounce: a new level is accepted only once it has been read the
//     same for the debounce time. Time is passed in by the caller, so the
//     tests drive it without sleeping.
package gpio
