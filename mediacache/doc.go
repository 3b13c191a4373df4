// Package mediacache downloads the images and documents that notices
// reference, checks them against their SHA-256 and a size cap, and keeps
// them in a bounded folder the cabin screen reads: one file per item, named
// by its lower-case hex SHA-256.
//
// Files never travel through NATS: a notice carries a URL and a hash, and
// the agent fetches the file over HTTP(S). A file whose content does not
// match its hash is never stored; a download that fails is retried on the
// next notice set or Sync. When the folder grows past its bound, the files
// no current notice references go first, oldest first.
//
// A notice cannot send the agent anywhere: only URLs (and redirects) to
// Options.TrustedHosts are fetched. Downloads run a few at a time, each
// bounded by Options.ItemTimeout, so one slow host costs its own items
// only. A cached file is trusted only if its size is the announced one and,
// once per process, its hash matches.
package mediacache
