//go:build !race

package browser_test

// raceEnabled reports whether the test was built with -race (see
// race_test.go).
const raceEnabled = false
