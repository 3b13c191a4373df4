// Package atomicfile replaces small files so that a power cut leaves either
// the old content or the new, never a mix: Write and WriteAs go through a
// synced temporary file in the same folder, a rename, and a sync of the
// folder (SyncDir), which is what makes the rename itself durable.
package atomicfile
