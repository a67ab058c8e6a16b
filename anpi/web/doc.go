// Package web serves the pages a recipient opens from a message: the answer
// page (/a/{token}) and the contact check page (/c/{token}). It uses net/http
// and html/template only, has no JavaScript, and routes relative to where it
// is mounted, so an intranet application can serve it under any prefix with
// http.StripPrefix.
//
// # Routes
//
//	GET  /a/{token}         the survey's event and form, in the recipient's locale (?lang=ja|en switches)
//	POST /a/{token}         records the answer (anpi.ViaWeb) and redirects (303) to the thank-you page
//	GET  /a/{token}/thanks  the current answer and a link back to change it
//	GET  /c/{token}         a contact check: one confirm button
//	POST /c/{token}         confirms the contact (ConfirmContact) and redirects (303) to /c/{token}/thanks
//	GET  /c/{token}/thanks  the confirmation
//
// A GET never records anything: mail security scanners open links. GETs
// call only Service.LookupToken.
//
// # Answers to errors
//
// A malformed, unknown, revoked or expired token gets the same plain 404 page,
// so a page never tells which; other
// paths and methods get the same page. Answers that do not fit the form re-render the
// form with the error and the choices made (400). A survey that no longer
// takes answers gets 410 Gone with a page saying so (and the answer given
// before, if any): the link will not work again, which 409 would not say.
//
// # Security
//
// Every response carries Referrer-Policy: no-referrer (the token is in the
// URL), a strict Content-Security-Policy (nothing but the page's own inline
// style, allowed by its hash; forms post only to the same origin; no framing),
// X-Content-Type-Options: nosniff and Cache-Control: no-store.
//
// A POST must carry a CSRF field, an HMAC of the answer token under a key
// (Options.CSRFKey, random per handler by default; replicas behind a load
// balancer share one), and must come from the same origin when the browser
// says (Sec-Fetch-Site, else Origin); otherwise it gets 403 and nothing is
// recorded. POSTs that pass are rate limited per token (Options.RateLimit
// per Options.RateWindow, default 10 per minute; 429 beyond, nothing
// recorded). The limit is kept in memory, per handler (per replica), and
// counts only tokens whose CSRF field was valid, so made-up tokens take no
// room in it. The origin check compares Origin with the request's Host:
// a reverse proxy in front must pass the Host on (modern browsers send
// Sec-Fetch-Site, which is checked instead when present).
package web
