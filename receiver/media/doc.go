// Package media keeps uploaded files content-addressed: a file is stored
// under its SHA-256 and never changes, so a notice can reference it by URL
// and hash and the agent can verify what it downloaded.
//
// A Store is where the files live: Dir, a directory on the receiver's
// disk (one machine), or Bucket, an S3-compatible bucket that several
// receivers share, so that a file uploaded through one is served by all.
// Both take an upload the same way (put): spooled to a local temporary
// file while its hash is computed (never a client's), bounded by the
// upload limit, checked, measured against the store's bound and the
// site's quota, and only then given its name in one atomic step (a rename,
// or a single S3 PUT), so a reader never sees a partial or refused file.
//
// What a file is comes from its content, never from what anyone declared:
// Sniff reads it (an image whose header decodes, within MaxPixels, or a
// PDF), and Put takes a check (CheckType) that runs before the file gets
// its name, so a refused upload is never stored.
package media
