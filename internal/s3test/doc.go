// Package s3test runs a real S3-compatible server for tests: the Versity
// S3 Gateway (versitygw) over a temporary directory (its posix backend),
// on a free loopback port, with credentials made for the test, over HTTP
// or HTTPS with a CA of the test's own. It starts in well under a second.
//
// scripts/test.sh builds versitygw into GOBIN (scripts/lib.sh,
// need_go_tool); without it a test skips, or fails when PALIER_REQUIRE_S3
// is set.
package s3test
