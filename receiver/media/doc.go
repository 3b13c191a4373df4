// Package media keeps uploaded files content-addressed: a file is stored
// under its SHA-256 and never changes, so a notice can reference it by URL
// and hash and the agent can verify what it downloaded.
package media
