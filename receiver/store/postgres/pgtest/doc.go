// Package pgtest gives tests an empty PostgreSQL schema of the database
// named by PALIER_TEST_POSTGRES_URL (EnvVar), so the same suites run
// against PostgreSQL as against SQLite: URL makes one per test and drops it
// after, and RequireVar turns a missing database into a failure.
package pgtest
