// Package browser holds the reference server's browser tests: a headless
// Chromium, driven from Go with chromedp, does what people do with the
// server, and screenshots are saved as test artifacts.
//
//   - TestAnswerAndDashboard builds examples/anpi-server, starts it on
//     127.0.0.1 with a fresh data directory, logs in with the one-time
//     password it prints, uploads a real VXSE53 on the JMA document page
//     (震度3 in 宮城県中部, which the demo's sendai-3 rule asks from), opens
//     the answer link of the newest captured mail
//     (/dev/mail) on a phone-sized tab, answers, sees the dashboard's tally
//     move, changes the answer and sees it move again. It saves
//     answer-page-phone.png and dashboard.png.
//   - TestAnswerPageInChromium answers through anpi/web's answer page alone
//     (an anpi.Service on memstore): what only a browser checks, such as the
//     inline style allowed by the Content-Security-Policy's hash and the
//     browser's own Sec-Fetch-Site passing the same-origin check.
//
// The tests need a Chromium binary: $ANPI_CHROMIUM, else chromium,
// chromium-browser, google-chrome or headless-shell on PATH; and the JMA
// samples (../shared/jma-samples, or $ANPI_SHARED_DIR). Without them they
// skip, saying so; with CI=true they fail instead, so CI cannot pass by
// skipping. .ci/run installs Debian's chromium, and a Japanese font for
// legible screenshots, when they are missing. Screenshots go to
// $ANPI_ARTIFACTS when set (.ci/run sets .ci/artifacts), else to the test's
// temporary directory.
//
// The package has no non-test code: this file only documents it.
package browser
