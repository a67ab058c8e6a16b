// Command anpi-server is the AnpiKit reference server: a working safety
// confirmation system on its embedded defaults.
//
//	go run ./examples/anpi-server            # listens on 127.0.0.1:8080, data in ./anpi-data
//	go run ./examples/anpi-server -h         # flags and their environment variables
//
// In development mode (the default, without -smtp), the first start (an
// empty store) seeds a demo organisation: a
// department tree, a few hundred users registered in real JMA quake areas
// and tsunami forecast regions (東京都２３区, 東京都多摩東部, 神奈川県東部,
// 大阪府北部, 宮城県中部), each with a private email at example.jp, an
// administrator (SystemAdmin and CrisisManager, company-wide) and the
// default auto-send rules (震度5弱 and above; 震度3 and above in 宮城県中部,
// so that a real JMA sample starts a survey; tsunami warnings). The
// administrator's password is random, printed once, and kept only as an
// argon2id hash in <data>/accounts.json (mode 0600). Private contacts are
// sealed with AES-256-GCM under a key generated once into <data>/key (mode
// 0600) unless -encryption-key gives one. In production mode (-smtp) an
// empty store gets only the administrator.
//
// It wires everything a deployment has: the store (SQLite in <data>, or
// PostgreSQL with -postgres), anpi.Service (with the JMA feed poller when
// -jma-poll is on, and its ticks for held sends, reminders and summaries
// either way), the dispatcher (anpi/dispatch) sending email through
// channel/email to a relay (-smtp) or, in development mode, to an
// in-process SMTP sink, LINE (-line-token), SMS or calls through Twilio
// (-twilio-sid, -twilio-token, -twilio-from; -twilio-voice) and APNs when
// configured, the webhooks that hear back from LINE and Twilio, and the
// pages of anpi/web.
//
// A LINE postback answers when its data is "survey=<survey ID>&self=<answer
// code>" (the survey a LINE message names in its data): the person is the
// recipient of that survey reached on LINE at the LINE user ID that LINE's
// signature vouches for. The LINE adapter sends text with the answer link
// and no buttons yet, so today's answers come by the link; the postback
// path is ready for a rich message. An unfollow is logged only: marking
// the contact broken needs a lookup by LINE user ID that anpi.Service does
// not have.
//
// Routes:
//
//	/a/{token}, /c/{token}   answer and contact-check pages (anpi/web)
//	/admin/                  administration (anpi/web admin handler); JSON API under
//	                         /admin/api/ with API keys from -new-api-key
//	/healthz                 liveness
//	/readyz                  readiness: store reachable, migrations done
//	/metrics                 Prometheus text format: deliveries by state and
//	                         channel, queue depth, answers, provider errors
//	/webhooks/line           with -line-secret: LINE's webhook (channel/line, X-Line-Signature
//	                         checked): postback answers, follow, unfollow, account linking
//	/webhooks/twilio/sms     with Twilio: SMS replies ("1" 無事, "2" 軽傷, "3" 重傷)
//	/webhooks/twilio/voice   with Twilio: the key pressed during a call (-twilio-voice);
//	                         both checked by X-Twilio-Signature against -base-url
//	/dev/mail                development mode: the captured mails, newest first
//	/dev/quake               development mode: simulate an earthquake report
//
// SIGINT or SIGTERM shuts it down gracefully: the HTTP server stops
// accepting and finishes its requests, the feed stops, the dispatcher
// records the sends in flight (and puts back what it had not sent), and the
// store is closed (SQLite checkpoints its log into the file).
package main
