//go:build race

package crash

// users is the size of the directory: smaller under the race detector,
// which slows the pure-Go SQLite down about twentyfold; the concurrency it
// checks is the same.
const users = 1000
