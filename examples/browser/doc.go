// Package browser holds the reference server's browser tests: a headless
// Chromium, driven from Go with chromedp, goes through what people do with
// the server — an administrator logs in and feeds a JMA report, a recipient
// opens the answer link from the mail on a phone and answers, the dashboard's
// tally moves — and screenshots of the answer page and the dashboard are saved
// as test artifacts.
//
// The tests need a Chromium binary: $ANPI_CHROMIUM, else chromium,
// chromium-browser, google-chrome or headless-shell on PATH. Without one they
// skip, saying so; with CI=true they fail instead, so CI cannot pass by
// skipping (.ci/run installs Debian's chromium package when none is found).
// Screenshots go to $ANPI_ARTIFACTS when set (.ci/run sets .ci/artifacts),
// else to the test's temporary directory.
//
// The package has no non-test code: this file only documents it.
package browser
