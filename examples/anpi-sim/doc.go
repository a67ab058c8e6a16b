// Command anpi-sim replays JMA XML documents through auto-send rules and
// prints who would be reached, without sending anything.
//
// Usage:
//
//	anpi-sim -users users.csv -rules rules.json [-explain] report.xml ...
//
// users.csv has the header "id,regions"; regions are space-separated
// "kind:code" keys ("quake:350 tsunami:300 warning:1310100"). rules.json is
// the rule set of package rules (see its documentation for the schema).
//
// The reports go through a jma.Tracker in the order given, on a virtual
// clock taken from each document's Control/DateTime, and anpi-sim prints one
// JSON object per line per decision:
//
//	{"report":"<file>","rule":"<rule id>","action":"send|drill|cancel|hold|skip","reason":"...","recipients":["<sorted ids>"],"count":N}
//
// A held send is printed as "hold" when it is decided and as "send" (or
// "drill") when its window expires, with the report that caused it. Skip
// lines are printed only with -explain. A file that cannot be read or parsed
// is reported on standard error and the exit status is 1; the other files
// are still replayed.
package main
