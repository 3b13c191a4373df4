// Package storetest is the conformance suite of store.Store: every engine's
// tests call Run with a function that opens a fresh, empty store, so SQLite
// and PostgreSQL are held to the same behaviour, and every engine's
// benchmark calls BenchInsertBatches, so their figures compare.
//
// The helpers T0, Event and Batch make valid events and batches for these
// and other packages' tests.
package storetest
