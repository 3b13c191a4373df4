// Package nettest gives tests the network addresses they need. A server
// under test binds port 0 itself (natsembed takes -1) and reports the port
// it got, so no test picks a "free" port, closes it and hopes nobody takes
// it before the server binds. Listen hands a test a bound loopback
// listener; RefusedAddr an address where a connection is refused; Proxy a
// link between a client and a server that can be cut or black-holed;
// WriteCert a self-signed certificate for 127.0.0.1 and localhost.
package nettest
