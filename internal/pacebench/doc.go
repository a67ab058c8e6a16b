// Package pacebench is the harness of the pacing benchmarks: it enqueues
// deliveries in a fresh memstore, runs an anpi/dispatch Dispatcher on the
// real clock against an adapter and its local fake, and measures the rate
// at which the provider accepted them, so each adapter's benchmark (LINE in
// anpi/dispatch, FCM in the channel/fcm module) reports the same figures the
// same way.
package pacebench
