// Package livefeed carries the live cabin state and the building's notices
// from the agent to the cabin screen over a local Unix socket.
//
// The protocol is newline-delimited JSON (docs/LIVEFEED.md). Each line is a
// Message: a "state" (a wire.State), a "notices" (a wire.NoticeSet) or a
// "keepalive". On connect the Server sends the current state and notices,
// then every change, and a keep-alive at a fixed interval so a client can
// tell a quiet agent from a dead one. One line goes the other way: a
// "played" play record (a wire.NoticeShownData) that the display sends and
// the Server hands to OnPlayed (proof of play); the Server reads client
// lines with a size bound and refuses any other type.
//
// The Server never lets a screen slow the agent down: each client has a
// bounded mailbox with one slot per message type, in which the newest state
// replaces an unsent older one, and a client that cannot take a line within
// the write timeout is dropped. The Subscriber reconnects with backoff when
// the agent restarts and keeps the last state and notices meanwhile.
package livefeed
