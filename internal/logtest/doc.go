// Package logtest gives tests a place to collect what a logger writes and
// read it back while the code under test is still logging.
package logtest
