// Package shareddata finds the data that sits beside the repository in
// ../shared — real JMA documents (jma-samples) and JMA code tables
// (jma-codes) — for tests. The project never commits that data: tests read it
// when it is present and skip, saying what is missing and how to provide it,
// when it is not.
//
// The directory is $ANPI_SHARED_DIR when set, else "shared" beside the
// repository root (the directory holding go.work), found by walking up from
// the working directory of the test.
package shareddata
