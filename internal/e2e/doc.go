// Package e2e holds the end-to-end tests and the pipeline benchmark of the
// AnpiKit engine: a JMA document goes in, anpi.Service writes the survey and
// its outbox, a dispatch.Dispatcher renders and sends through real channel
// adapters against the local fakes of internal/fake (SMTP, Twilio) and
// in-memory senders (channel/memchan), and the recipients' answers come back
// through every path the engine offers (answer link, LINE postback, voice
// key press, SMS reply) into the store's tallies.
//
// The package has no API: everything is in its _test.go files.
//
//   - e2e_test.go runs each scenario against store/memstore and
//     store/sqlite (sealed contacts): who is asked on which channel, what
//     the fakes received (Japanese text intact, answer link present), the
//     answers and the tally, a re-answer, a 取消 (unsent deliveries
//     cancelled, a short correction to those reached), a 訓練 document
//     (never a real survey; a drill survey only for a rule that opts in),
//     a bounced email falling back to SMS, and a voice call answered by a
//     key press. The dispatcher is driven with Step on a fake clock.
//   - bench_test.go has BenchmarkVXSE53To100kDeliveries: a national-scale
//     VXSE53 reaching 100,000 people, SQLite with default durability,
//     from HandleDocument to the first message and to all 100,000 handed
//     to senders.
//
// The fixtures in testdata are written by hand from the JMA XML
// specification; they are not real reports. Nothing here touches the
// internet: every server listens on 127.0.0.1.
package e2e
