//go:build !race

package crash

// users is the size of the directory.
const users = 10000
