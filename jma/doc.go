// Package jma reads the Japan Meteorological Agency's disaster XML
// (気象庁防災情報XML) and turns it into what a safety-confirmation (安否確認)
// system acts on. It uses the standard library only.
//
// # Parsing
//
// [Parse] reads one document into a [Report]: Control (UTC), Head (JST, with
// the EventID list, InfoType and Serial) and a typed Body chosen by the Body
// namespace and Control/Title:
//
//   - earthquakes VXSE51/52/53, including 遠地地震に関する情報 ([Earthquake]);
//   - EEW VXSE43/44/45 and the VXSE42 test ([EEW]);
//   - tsunami VTSE41/51/52 ([Tsunami]);
//   - weather warnings VPWW53/54 and the 2026 VPWW55–61 ([Warnings]);
//   - the VPNO50 special-warning notice, whose Body is empty ([Notice]).
//
// Any other JMA document parses its Control and Head and has
// [FamilyUnsupported]; that is not an error. Codes are kept as strings and
// unknown codes are carried through. [Intensity] has a total order and an
// explicit [IntensityUnreceived5Lower] for 震度５弱以上未入電.
//
// [Summarize] is the fast path: a streaming byte scanner that extracts only
// the routing summary (Control, Head, maximum intensity, per-area MaxInt,
// tsunami kinds, warning kinds) and is an order of magnitude faster than
// encoding/xml. [Report.Summary] derives the same value from a full parse.
//
// Inputs over [MaxDocumentSize] (16 MiB) are refused with [ErrTooLarge].
// External entities are never resolved: encoding/xml does not fetch or
// expand them (an undeclared entity is a syntax error) and the scanner skips
// DOCTYPE declarations.
//
// # Tracking events
//
// A [Tracker] groups reports into events (EventID for earthquakes, EEW and
// tsunami, with several EventIDs joining one event; publishing office,
// prefecture and telegram group for warnings), orders them (Serial, else
// ReportDateTime, then Control/DateTime), drops duplicates, applies 取消 and
// 訂正, and returns an [Update] per report with the per-area facts that
// became true (areas newly at or above each intensity, higher tsunami kinds,
// newly issued warnings). Each fact appears once per event, so a rule engine
// that only escalates never fires twice. Training (訓練) and test (試験)
// reports are tracked apart from real ones; callers must still gate actions
// on Control/Status ([Status.Real]).
//
// # Getting documents
//
// [ParseFeed] reads JMA's Atom feeds and [TypeFromURL] extracts the data type
// from an entry URL so callers filter before downloading. A [Poller] is a
// [Source] that polls the feeds politely: conditional GET, 60 s polls at 20 s
// past the minute, backfill from the long feed at start, bounded dedupe by URL,
// retry of entries whose file is not there yet, and never the same download
// twice.
package jma
