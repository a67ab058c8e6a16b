// Package crash holds the engine's crash test: the whole send path of
// AnpiKit (anpi.Service, dispatch.Dispatcher, the SQLite store and the real
// email and Twilio adapters) in a child process that the test kills with
// SIGKILL at random moments and restarts, against fake SMTP and Twilio
// servers that run in the test process, so what was delivered outlives
// each child.
//
// The directory has 10,000 users, each with a work email; one in ten has a
// phone, and for half of those the work email bounces, so the dispatcher
// falls back to SMS. One rule reaches everyone; every child feeds the same
// earthquake report (jma/testdata/vxse51_event_a_1.xml), runs the
// dispatcher and, at the same time, answers for a subset of the recipients:
// through the answer links the fakes received (Service.AnswerByToken) and
// as an administrator (Service.AnswerAs). The last child runs until every
// delivery is final.
//
// After each kill and at the end the test checks the invariants of
// DESIGN.md §3: the survey's fan-out was written in whole chunks (the
// survey with its first recipients, then the rest a chunk at a time, each
// recipient with his delivery), a later child's feed asked the rest, and
// the last child's survey is whole; nobody was asked twice, and nobody was messaged twice on a channel
// except for deliveries the killed child held under its lease (in flight:
// those are counted and logged); every recipient was reached in the end;
// every acknowledged answer survived; the tally counters equal a recount.
//
// The package has no code besides its tests. Run it with
//
//	go test ./internal/e2e/crash/
//
// (skipped under -short). ANPI_CRASH_KILLS sets the number of kills
// (default 20); after a minute no further child is killed. It takes about
// 40 seconds on two cores. Under the race detector the directory has 1,000
// users (the pure-Go SQLite runs about twenty times slower there), with the
// same kills and checks.
package crash
