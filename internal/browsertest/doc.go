// Package browsertest drives Debian's headless Chromium for the tests of
// Palier's web pages (the operators' dashboard, the login, the managers'
// pages, the screen preview): one browser per test, each step bounded, the
// page's uncaught exceptions and CSP refusals collected, screenshots saved.
//
// scripts/test.sh installs chromium and sets PALIER_REQUIRE_CHROMIUM, so CI
// never skips a browser test; elsewhere a test without Chromium skips.
package browsertest
