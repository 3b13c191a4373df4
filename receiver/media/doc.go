// Package media keeps uploaded files content-addressed: a file is stored
// under its SHA-256 and never changes, so a notice can reference it by URL
// and hash and the agent can verify what it downloaded.
//
// What a file is comes from its content, never from what anyone declared:
// Sniff reads it (an image whose header decodes, within MaxPixels, or a
// PDF), and Put takes a check (CheckType) that runs before the file gets
// its name, so a refused upload is never stored.
package media
