// Package web serves the pages a recipient opens from a message: the answer
// page (/a/{token}), the contact check page (/c/{token}) and the registration
// page behind an invitation link (/r/{token}). It uses net/http
// and html/template only, has no JavaScript, and routes relative to where it
// is mounted, so an intranet application can serve it under any prefix with
// http.StripPrefix.
//
// # Routes
//
//	GET  /a/{token}         the survey's event and form, in the recipient's locale (?lang=ja|en switches)
//	POST /a/{token}         records the answer (anpi.ViaWeb) and redirects (303) to the thank-you page
//	GET  /a/{token}/thanks  the current answer and a link back to change it
//	GET  /c/{token}         a contact check: a confirm button and a "not my contact" button
//	POST /c/{token}         confirms the contact (ConfirmContact), or, with wrong=1 (the button
//	                        "this is not my contact"), answers ContactCheckWrong so the contact is
//	                        marked broken; redirects (303) to /c/{token}/thanks
//	GET  /c/{token}/thanks  the confirmation
//	GET  /r/{token}         the registration page of an invitation link (anpi.InvitationPath): the
//	                        user's contacts by kind with their status (verified, not yet verified,
//	                        not working), addresses masked (t•••@home.example, +81•••••2222: the
//	                        link may be forwarded); a form to add a private email or phone number or
//	                        a family member's; his regions, editable when Settings.UsersMayEditRegions
//	POST /r/{token}         registers a contact (RegisterContact); 303 back to the page with a
//	                        success message (?done=contact); a refused one re-renders the form with
//	                        the field named: 400 bad input, 409 a duplicate or over the limits
//	POST /r/{token}/regions replaces his regions (one kind:code a line, anpi.ParseRegion; 403 when the
//	                        settings do not allow it); 303 back (?done=regions)
//	POST /r/{token}/line    with Options.LINELinkURL only (the page shows the button then): 303 to the
//	                        https URL it returns for the user, where the server starts LINE linking
//
// The /r/ routes are served when the Service also implements SelfService
// (an *anpi.Service does). A typed address is never written back into a
// refused form: no response carries a whole address. The app's push token
// is registered by the app, and LINE by account linking (from the company's
// LINE official account, or the button Options.LINELinkURL enables): the
// page says so rather than offering a field.
//
// A GET never records anything: mail security scanners open links. GETs
// call only Service.LookupToken (and SelfService.InvitationView). The
// answer POST calls Service.SubmitAnswer, which parses the form against
// the survey's questions and records in one write.
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
// recorded. The registration page's forms carry their own field (another
// HMAC purpose), so an answer page's field does not pass there. POSTs that
// pass are rate limited per token (Options.RateLimit
// per Options.RateWindow, default 10 per minute; 429 beyond, nothing
// recorded). The limit is kept in memory, per handler (per replica), and
// counts only tokens whose CSRF field was valid, so made-up tokens take no
// room in it. The origin check compares Origin with the request's Host:
// a reverse proxy in front must pass the Host on (modern browsers send
// Sec-Fetch-Site, which is checked instead when present).
//
// # Administrator pages and API
//
// NewAdminHandler serves the administrators' side, to be mounted with
// http.StripPrefix under any prefix (every link and redirect is relative).
// Administrators log in with a password (Accounts; MemAccounts keeps
// argon2id hashes and persists as JSON); API clients send
// "Authorization: Bearer <key>". What a user may see or do is decided by
// the Service from his role grants: a manager scoped to a department sees
// only the surveys that reached his department, and only his department
// of them.
//
//	GET  /login, POST /login     password login; failed logins are limited per email and per client (429)
//	GET  /oidc/{name}/start      with AdminOptions.OIDC: OpenID Connect sign-in at provider name (a button
//	GET  /oidc/{name}/callback   of the login page); 404 when no provider is configured
//	POST /logout                 ends the session on the server
//	GET  /                       the surveys the administrator may see, with response rates
//	GET  /surveys/{id}           live tally (refreshes every 5 s): rates, answers with an SVG chart,
//	                             departments rolled up, regions, answer-time quartiles, the unanswered
//	POST /surveys/{id}/followup  a follow-up to the unanswered, or to those who chose an answer (within
//	                             his department, by name, for an administrator who sees only that)
//	GET  /surveys/{id}/export.csv  Service.ExportCSV (audited); ?department=&region=&question=&choice=&notanswered=1
//	GET  /send, POST /send       manual send, optionally a test send to oneself first, or saved as a
//	                             draft (save=draft); GET /send?draft={id} opens a draft to edit or send
//	GET  /drafts                 the drafts the administrator may send; POST /drafts/{id}/send (test=1:
//	                             a test send to oneself, the draft stays), POST /drafts/{id}/delete
//	GET  /feed, POST /feed       upload a JMA XML document (16 MiB at most); needs StartSend company-wide;
//	                             audited as jma.upload with the uploader (Service.AuditUpload)
//	GET  /rules, POST /rules/simulate  the rules, and who a quake at an area and intensity would reach
//	GET  /contacts               contact status per user (never an address), users without a private contact
//	GET  /api/surveys            JSON; GET /api/surveys/{id}/tally, GET /api/surveys/{id}/export.csv,
//	                             POST /api/surveys (a SendRequest), POST /api/documents (raw XML),
//	                             GET /api/drafts, POST /api/drafts (a SendRequest; its ID replaces that
//	                             draft), POST /api/drafts/{id}/send ({"testTo":[…]} for a test send),
//	                             DELETE /api/drafts/{id},
//	                             GET /api/audit, GET /api/users, GET /api/rules, POST /api/rules/simulate
//
// OpenID Connect sign-in (Microsoft Entra ID, Google Workspace, …) is off
// unless AdminOptions.OIDC names providers. github.com/coreos/go-oidc
// discovers each on first use (so a provider that is down delays nothing
// else) and verifies the ID token: signature against the provider's keys,
// issuer, audience, expiry on the injected clock, and the nonce. The
// start keeps a random state (one use, ten minutes, also in a cookie
// binding it to the browser), the nonce and a PKCE verifier (S256) on the
// server. The identity maps to a user by OIDCProvider.MapUser, by default
// its verified email (OIDCIdentity.LoginEmail) looked up with
// EmailAccounts (MemAccounts implements it): an email without a login is
// refused; nobody is created. OIDCProvider.HostedDomain and TenantID keep
// other Google domains and Entra tenants out. A sign-in makes the same
// session as a password login; every failure shows the login page with
// one generic message, counts against the client's login limit and is
// logged without code, state or token. A client may start as many
// sign-ins per AdminOptions.LoginWindow as it may fail logins (429 beyond).
//
// Sessions live in memory, keyed by a random 256-bit ID kept in an
// HttpOnly, SameSite=Lax, Secure cookie (AdminOptions.InsecureCookies
// drops Secure for plain-HTTP development), and end after
// AdminOptions.SessionTTL (12 h) on the injected clock. At most four
// password checks (argon2id) run at once. Every page POST is
// size-limited, must come from the same origin and carries a CSRF field,
// an HMAC of the session ID; the login form's is an HMAC of a nonce
// cookie. The API ignores the cookie, so it needs no CSRF field; its errors
// are JSON {"error", "code"} with the HTTP status of anpi.Code (internal
// details go to the log only). Responses carry the same security headers as
// the answer pages. The log never receives a password, key, session ID or
// CSRF field.
package web
