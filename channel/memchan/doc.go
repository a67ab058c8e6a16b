// Package memchan is an in-memory channel.Sender for tests and examples. It
// records every message it accepts (Sent) and fails on demand, per address:
// FailWith returns a chosen error, Block waits for the context like a
// provider that never answers. It passes the channeltest conformance suite.
//
// A Sender is also a channel.BatchSender; to exercise the one-by-one path of
// code that looks for BatchSender, hide it behind a struct that embeds only
// the channel.Sender interface.
package memchan
