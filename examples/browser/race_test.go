//go:build race

package browser_test

// raceEnabled reports whether the test was built with -race: the server it
// builds then is too, so a data race in the server fails the test (the race
// detector makes the server exit non-zero).
const raceEnabled = true
