// Package rules decides who an auto-send (自動一斉送信) reaches when JMA issues
// a report: earthquake, tsunami and weather-warning rules, evaluated on the
// updates of a [jma.Tracker], with simulation, replay and diff for
// verification. It depends on package jma and the standard library only,
// does no I/O and knows nothing of users: recipients are opaque string IDs
// registered with their region codes in an [Index].
//
// # Data flow
//
//	jma.Parse → jma.Tracker.Apply → Update → State.Evaluate(update, rules, index, now) → []Decision
//
// A [Decision] names the rule and the event, an [Action] (send, drill,
// cancel, hold or skip), the regions that matched with the recipients newly
// in scope under each ([Match]), and a Reason. Skips say why: 試験, a drill
// the rule does not opt in to, a duplicate (or the twin of a VPWW53/54
// pair), below threshold, already notified, suppressed, nothing to cancel.
//
// # State
//
// Escalate-only evaluation, hold windows and suppression need memory across
// updates; Evaluate stays free of hidden state by making that memory an
// explicit value, the [State], which the caller owns and passes time into
// (it never reads a clock). Per (rule, event) it keeps the set of
// recipients reached, as a bitset over index ordinals, and any held send;
// per rule it keeps the regions and levels reached recently (the series).
// A later update of the same event (VXSE51 then VXSE53, serial 2, an upward
// revision) reaches only recipients not reached before; nobody is asked twice
// about one event by one rule. Memory is bounded (StateOptions: a TTL after
// the last update and a maximum number of records), and a State persists
// with encoding/json, recipients written as IDs.
//
// The package-level [Evaluate] is State.Evaluate on a fresh State: a
// one-shot answer with no memory.
//
// # Semantics
//
//   - Status: 訓練 documents produce drill decisions only for rules with
//     Options.Drill, never real sends; 試験 documents never produce anything
//     but a skip.
//   - Earthquake: an area matches when the event's intensity there is at or
//     above the threshold. 震度５弱以上未入電 counts as 5弱 (UnreceivedCount:
//     it meets thresholds up to 5弱, and none above, where it is undecidable)
//     or is ignored (UnreceivedIgnore: only received values count).
//     緊急地震速報 counts only with EarthquakeTrigger.EEW and shares the event
//     with the observed reports.
//   - Tsunami: a 津波予報区 matches when its current kind is of a level the
//     rule lists; 52 and 53 are both "major". Lifted kinds (50, 60, 71–73)
//     never match.
//   - Weather: a 市町村等 matches when a listed kind is newly issued there
//     (jma.WarningFact.Issued); 継続, 解除, downgrades and the second half of
//     a VPWW53/54 pair never fire. Each new issuance reaches only newly
//     covered areas; once no listed kind is in force in the prefecture the
//     series ends and the next issuance is news again.
//   - Targeting: TargetRegion reaches recipients registered for a matched
//     region ("quake:350", "tsunami:300", "warning:1310100"); TargetFixed
//     reaches the rule's Recipients and Groups when any area in its filter
//     matches; TargetNationwide reaches every recipient of the index.
//   - Hold (0–10 min): the first matching update yields ActionHold with
//     HoldUntil; later updates of the event add to the same hold;
//     [State.Due] (or any later Evaluate) releases it as one send per report
//     that added to it. An escalation after the release opens a new hold. A
//     取消 drops it; a 訂正 removes the regions the corrected report no
//     longer matches. Notices to administrators are never held.
//   - Suppress: within the window after the rule reached a region for one
//     event, another event reaching the same region at a level not higher is
//     suppressed: the rule's Admins get one notice (AdminsOnly), the
//     recipients are not asked. A higher level, or another region, is sent.
//   - AdminsOnly: the rule notifies its Admins once per event with the count
//     in scope, instead of the recipients.
//   - 取消: a cancel withdraws one report. When nothing of the event stands
//     for the rule any more, ActionCancel lists everyone already reached (in
//     Direct), drops what is held, and clears the (rule, event) memory, so a
//     re-issued report is news again. When other reports still stand (a
//     VXSE53 withdrawn, its VXSE51 still valid), only the regions the cancel
//     took away are withdrawn: their held sends are dropped and the
//     recipients reached only through them are told. A 取消 of a 緊急地震速報
//     after observed intensities of the same event withdraws nothing.
//   - Unknown codes are carried through: an area code no table knows is
//     simply a region nobody, or somebody, registered.
//
// # Index
//
// [Index] interns recipient IDs to dense uint32 ordinals and keeps a sorted
// postings list per region key; add, replace and remove are incremental and
// the index is safe for concurrent reads during updates.
//
// # Verification
//
// [Simulate] evaluates a hypothetical [Scenario] ("震度6弱 in area 350");
// [Replay] feeds documents through a tracker and a State on a virtual clock
// taken from the documents and returns a timeline of [Step]s, hold releases
// included; [Diff] replays two rule sets and reports, per document, the
// recipients gained and lost.
//
// # JSON schema
//
// [DecodeRules] reads, and [EncodeRules] writes, this document (unknown
// fields are refused; every problem is reported with its field path in a
// [ValidationError]):
//
//	{
//	  "version": 1,
//	  "rules": [
//	    {
//	      "id": "quake-tokyo",            // required, unique
//	      "name": "Tokyo 5-",             // optional
//	      "kind": "earthquake",           // earthquake | tsunami | weather
//	      "target": "region",             // region (default) | fixed | nationwide
//	      "disabled": false,
//	      "earthquake": {                 // when kind is earthquake
//	        "threshold": "5-",            // 1 2 3 4 5- 5+ 6- 6+ 7 (or 震度５弱 …)
//	        "areas": ["350"],             // 3-digit 細分区域 (optional filter)
//	        "prefectures": ["13"],        // 2-digit prefecture (optional filter)
//	        "eew": false                  // also react to 緊急地震速報
//	      },
//	      "tsunami": {                    // when kind is tsunami
//	        "kinds": ["major", "warning"],// major | warning | advisory (default major, warning)
//	        "regions": ["300"]            // 3-digit 津波予報区 (optional filter)
//	      },
//	      "weather": {                    // when kind is weather
//	        "kinds": ["special"],         // 2-digit codes ("33"), "special", "warnings" (default special)
//	        "areas": ["1310100"],         // 7-digit 市町村等 (optional filter)
//	        "prefectures": ["13"]         // 2-digit prefecture or 6-digit 府県予報区 (optional filter)
//	      },
//	      "recipients": ["u1"],           // target fixed: recipient IDs
//	      "groups": ["bcp-team"],         // target fixed: groups the caller resolves
//	      "admins": ["admin1"],           // the rule's administrators
//	      "options": {
//	        "drill": false,               // opt in to 訓練 (drill decisions)
//	        "hold": "10m",                // 0–10m, default 0
//	        "suppress": "6h",             // same-series window, 0–168h, default 0
//	        "adminsOnly": false,          // notify only the admins
//	        "unreceived": "count"         // 震度５弱以上未入電: count (as 5-, default) | ignore
//	      }
//	    }
//	  ]
//	}
//
// (The comments above are for the reader; JSON has none.)
package rules
