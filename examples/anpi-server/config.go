package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi/web"
)

// config is what the flags and the environment say. Every flag has an
// environment variable; a flag given on the command line wins over it.
type config struct {
	Addr          string
	Data          string
	BaseURL       string
	PostgresURL   string
	PGSchema      string
	SMTP          string // relay host:port; empty: the in-process sink
	SMTPFrom      string
	SMTPUser      string
	SMTPPassword  string
	SMTPTLS       string // mandatory, opportunistic, none, implicit
	EncryptionKey string // base64 of 32 bytes; empty: <data>/key
	AnswerWindow  time.Duration
	Reminders     int
	RemindEvery   time.Duration
	JMAPoll       bool
	JMAFeeds      []string // short feed URLs; default jma.FeedEqvol and jma.FeedExtra
	DemoUsers     int
	Dev           bool
	AdminEmail    string
	NewAPIKey     string // an action: create an API key so named, print it, exit

	LINEToken   string
	LINESecret  string // channel secret: enables the webhook at /webhooks/line
	LINEAPI     string // Messaging API base URL; empty: LINE's
	TwilioSID   string
	TwilioToken string
	TwilioFrom  string
	TwilioAPI   string // REST API base URL; empty: Twilio's
	TwilioVoice bool   // phones are called instead of texted
	APNsKeyFile string
	APNsKeyID   string
	APNsTeamID  string
	APNsTopic   string
	APNsSandbox bool

	// OIDC sign-in of the administrators (one provider), on when
	// OIDCIssuer is given.
	OIDCName         string
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCTenant       string // Entra ID tenant ID whose accounts alone sign in
	OIDCHostedDomain string // Google Workspace domain whose accounts alone sign in

	devExplicit bool // -dev or ANPI_DEV was given
}

// envFlag is one flag and the environment variable that sets its default.
type envFlag struct {
	name, env, usage string
}

// parseConfig reads args and the environment (getenv). -h prints the usage
// to out and returns flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("anpi-server", flag.ContinueOnError)
	fs.SetOutput(out)
	var flags []envFlag
	str := func(p *string, name, env, def, usage string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage)
		flags = append(flags, envFlag{name, env, usage})
	}
	var envErr error
	boolean := func(p *bool, name, env string, def bool, usage string) {
		if v := getenv(env); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: want 1, 0, true or false", env, v)
			}
			def = b
		}
		fs.BoolVar(p, name, def, usage)
		flags = append(flags, envFlag{name, env, usage})
	}
	str(&c.Addr, "addr", "ANPI_ADDR", "127.0.0.1:8080", "listen address")
	str(&c.Data, "data", "ANPI_DATA", "./anpi-data", "data directory: anpi.db, key, accounts.json")
	str(&c.BaseURL, "base-url", "ANPI_BASE_URL", "", "public root URL of the answer links (default http://<addr>)")
	str(&c.PostgresURL, "postgres", "ANPI_POSTGRES_URL", "", "PostgreSQL URL: use store/postgres instead of SQLite in <data>")
	str(&c.PGSchema, "postgres-schema", "ANPI_POSTGRES_SCHEMA", "public", "PostgreSQL schema of the store's tables (created when missing)")
	str(&c.SMTP, "smtp", "ANPI_SMTP", "", "SMTP relay host:port; empty runs an in-process mail sink (development)")
	str(&c.SMTPFrom, "smtp-from", "ANPI_SMTP_FROM", "安否確認 <anpi@example.jp>", "From of the mails")
	str(&c.SMTPUser, "smtp-user", "ANPI_SMTP_USER", "", "SMTP AUTH user (optional)")
	str(&c.SMTPPassword, "smtp-password", "ANPI_SMTP_PASSWORD", "", "SMTP AUTH password (optional; prefer the variable)")
	str(&c.SMTPTLS, "smtp-tls", "ANPI_SMTP_TLS", "mandatory", "TLS to the relay: mandatory (STARTTLS), opportunistic, none, implicit")
	str(&c.EncryptionKey, "encryption-key", "ANPI_ENCRYPTION_KEY", "", "base64 of the 32-byte key sealing private contacts (default: generated once into <data>/key)")
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: not a duration such as 72h", env, v)
			}
			def = d
		}
		fs.DurationVar(p, name, def, usage)
		flags = append(flags, envFlag{name, env, usage})
	}
	dur(&c.AnswerWindow, "answer-window", "ANPI_ANSWER_WINDOW", 72*time.Hour, "how long automatic surveys take answers (their links expire with it)")
	var reminders string
	str(&reminders, "reminders", "ANPI_REMINDERS", "2x1h", "reminders (再通知) of automatic surveys to those who have not answered: COUNTxINTERVAL, or 0")
	boolean(&c.JMAPoll, "jma-poll", "ANPI_JMA_POLL", false, "poll the JMA Atom feeds and act on the documents")
	demoUsage := "users of the demo organisation seeded into an empty store in development mode"
	fs.IntVar(&c.DemoUsers, "demo-users", 300, demoUsage)
	flags = append(flags, envFlag{"demo-users", "ANPI_DEMO_USERS", demoUsage})
	if v := getenv("ANPI_DEMO_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("ANPI_DEMO_USERS=%q: not a number", v)
		}
		c.DemoUsers = n
		fs.Lookup("demo-users").DefValue = v
	}
	str(&c.AdminEmail, "admin-email", "ANPI_ADMIN_EMAIL", defaultAdminEmail, "login of the administrator created on first start")
	var feeds string
	str(&feeds, "jma-feeds", "ANPI_JMA_FEEDS", "", "comma-separated JMA Atom feed URLs to poll (default JMA's eqvol.xml and extra.xml; a mirror or a proxy)")
	fs.StringVar(&c.NewAPIKey, "new-api-key", "", "create an API key for the administrator with this label, print it and exit")
	flags = append(flags, envFlag{"new-api-key", "", "create an API key for the administrator with this label, print it and exit (the server need not stop)"})
	boolean(&c.Dev, "dev", "ANPI_DEV", false, "development mode: the demo seed, /dev/mail and /dev/quake, admin cookies without Secure on http (default: on when -smtp is empty)")
	str(&c.LINEToken, "line-token", "ANPI_LINE_TOKEN", "", "LINE Messaging API channel access token (optional: enables LINE)")
	str(&c.LINESecret, "line-secret", "ANPI_LINE_SECRET", "", "LINE channel secret (optional, with -line-token: enables the webhook POST /webhooks/line, signature-checked)")
	str(&c.LINEAPI, "line-api", "ANPI_LINE_API", "", "LINE Messaging API base URL (default https://api.line.me; a proxy)")
	str(&c.TwilioSID, "twilio-sid", "ANPI_TWILIO_SID", "", "Twilio account SID (optional: with -twilio-token and -twilio-from enables SMS)")
	str(&c.TwilioToken, "twilio-token", "ANPI_TWILIO_TOKEN", "", "Twilio auth token (optional)")
	str(&c.TwilioFrom, "twilio-from", "ANPI_TWILIO_FROM", "", "Twilio sending number, E.164 (optional)")
	str(&c.TwilioAPI, "twilio-api", "ANPI_TWILIO_API", "", "Twilio REST API base URL (default https://api.twilio.com; a proxy)")
	boolean(&c.TwilioVoice, "twilio-voice", "ANPI_TWILIO_VOICE", false, "with Twilio: call phones (the message is read, a key answers) instead of texting them; needs -base-url")
	str(&c.APNsKeyFile, "apns-key", "ANPI_APNS_KEY_FILE", "", "APNs .p8 key file (optional: with -apns-key-id, -apns-team and -apns-topic enables APNs)")
	str(&c.APNsKeyID, "apns-key-id", "ANPI_APNS_KEY_ID", "", "APNs key ID (optional)")
	str(&c.APNsTeamID, "apns-team", "ANPI_APNS_TEAM_ID", "", "Apple team ID (optional)")
	str(&c.APNsTopic, "apns-topic", "ANPI_APNS_TOPIC", "", "APNs topic, the app's bundle ID (optional)")
	boolean(&c.APNsSandbox, "apns-sandbox", "ANPI_APNS_SANDBOX", false, "use the APNs development environment")
	str(&c.OIDCIssuer, "oidc-issuer", "ANPI_OIDC_ISSUER", "", "OpenID Connect issuer URL of the administrators' sign-in, e.g. https://login.microsoftonline.com/<tenant-id>/v2.0 or https://accounts.google.com (optional: enables the sign-in button)")
	str(&c.OIDCName, "oidc-name", "ANPI_OIDC_NAME", "SSO", "name of the sign-in button and of its path /admin/oidc/<name>/callback (letters, digits, - and _), e.g. Microsoft or Google")
	str(&c.OIDCClientID, "oidc-client-id", "ANPI_OIDC_CLIENT_ID", "", "client (application) ID registered at the OIDC provider")
	str(&c.OIDCClientSecret, "oidc-client-secret", "ANPI_OIDC_CLIENT_SECRET", "", "client secret registered at the OIDC provider (prefer the variable)")
	str(&c.OIDCTenant, "oidc-tenant", "ANPI_OIDC_TENANT", "", "Entra ID tenant ID: only its accounts sign in (their user principal name then counts as their email)")
	str(&c.OIDCHostedDomain, "oidc-hosted-domain", "ANPI_OIDC_HOSTED_DOMAIN", "", "Google Workspace domain: only its accounts sign in")
	if envErr != nil {
		return nil, envErr
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: anpi-server [flags]\n\nThe AnpiKit reference server. Every flag can be set by its environment variable;\na flag on the command line wins.\n\n")
		for _, f := range flags {
			fl := fs.Lookup(f.name)
			def := fl.DefValue
			// Secrets given by the environment are not echoed (a
			// PostgreSQL URL may carry a password).
			if strings.Contains(f.name, "password") || f.name == "encryption-key" || f.name == "postgres" || strings.HasSuffix(f.name, "token") || strings.HasSuffix(f.name, "secret") {
				if def != "" {
					def = "(set)"
				}
			}
			if def == "false" { // a bool flag is off unless given; -dev says its own default
				def = ""
			}
			if def != "" {
				def = " (default " + strconv.Quote(def) + ")"
			}
			env := f.env
			if env == "" {
				env = "(no variable)"
			}
			fmt.Fprintf(out, "  -%s\t%s\n      %s%s\n", f.name, env, f.usage, def)
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "dev" {
			c.devExplicit = true
		}
	})
	if getenv("ANPI_DEV") != "" {
		c.devExplicit = true
	}
	if !c.devExplicit {
		c.Dev = c.SMTP == ""
	}
	if a, err := mail.ParseAddress(c.AdminEmail); err != nil || a.Address != c.AdminEmail {
		return nil, fmt.Errorf("-admin-email %q: want a bare address such as admin@example.co.jp", c.AdminEmail)
	}
	if c.DemoUsers < 1 {
		return nil, fmt.Errorf("-demo-users %d: want at least 1", c.DemoUsers)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return nil, fmt.Errorf("-addr %q: %w", c.Addr, err)
	}
	if c.SMTP != "" {
		if _, p, err := net.SplitHostPort(c.SMTP); err != nil {
			return nil, fmt.Errorf("-smtp %q: want host:port: %w", c.SMTP, err)
		} else if _, err := strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("-smtp %q: port %q is not a number", c.SMTP, p)
		}
	}
	switch c.SMTPTLS {
	case "mandatory", "opportunistic", "none", "implicit":
	default:
		return nil, fmt.Errorf("-smtp-tls %q: want mandatory, opportunistic, none or implicit", c.SMTPTLS)
	}
	if reminders != "0" {
		n, every, ok := strings.Cut(reminders, "x")
		var err error
		if c.Reminders, err = strconv.Atoi(n); err != nil || !ok {
			return nil, fmt.Errorf("-reminders %q: want COUNTxINTERVAL such as 2x1h, or 0", reminders)
		}
		if c.RemindEvery, err = time.ParseDuration(every); err != nil {
			return nil, fmt.Errorf("-reminders %q: interval: %w", reminders, err)
		}
	}
	if c.AnswerWindow < 0 {
		return nil, fmt.Errorf("-answer-window %s: want 0 (no deadline) or more", c.AnswerWindow)
	}
	for _, f := range strings.Split(feeds, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if u, err := url.Parse(f); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-jma-feeds: %q is not an http(s) URL", f)
		}
		c.JMAFeeds = append(c.JMAFeeds, f)
	}
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return nil, fmt.Errorf("-base-url %q: want an http:// or https:// URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.LINESecret != "" && c.LINEToken == "" {
		return nil, fmt.Errorf("-line-secret: needs -line-token (the webhook replies and answers what LINE sent)")
	}
	if c.TwilioVoice && c.BaseURL == "" {
		return nil, fmt.Errorf("-twilio-voice: needs -base-url (Twilio posts the key pressed to <base-url>/webhooks/twilio/voice)")
	}
	for _, u := range []struct{ flag, v string }{{"-line-api", c.LINEAPI}, {"-twilio-api", c.TwilioAPI}} {
		if u.v != "" && !strings.HasPrefix(u.v, "http://") && !strings.HasPrefix(u.v, "https://") {
			return nil, fmt.Errorf("%s %q: want an http:// or https:// URL", u.flag, u.v)
		}
	}
	if err := c.checkOIDC(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkOIDC refuses an incomplete OIDC configuration: with -oidc-issuer,
// the client ID and secret are needed and the name must suit a path;
// without it, no other OIDC flag means anything.
func (c *config) checkOIDC() error {
	if c.OIDCIssuer == "" {
		if c.OIDCClientID != "" || c.OIDCClientSecret != "" || c.OIDCTenant != "" || c.OIDCHostedDomain != "" {
			return fmt.Errorf("-oidc-client-id, -oidc-client-secret, -oidc-tenant, -oidc-hosted-domain: need -oidc-issuer")
		}
		return nil
	}
	if c.OIDCClientID == "" || c.OIDCClientSecret == "" {
		return fmt.Errorf("-oidc-issuer: needs -oidc-client-id and -oidc-client-secret (ANPI_OIDC_CLIENT_SECRET)")
	}
	// The redirect URL is not known yet (-base-url may be the listener's):
	// a placeholder stands for it, so the name and issuer are checked now.
	if err := c.oidcProvider("https://anpi.invalid").Validate(); err != nil {
		return fmt.Errorf("-oidc-name, -oidc-issuer: %w", err)
	}
	return nil
}

// oidcProvider is the administrators' OIDC provider of the flags, with
// the callback under baseURL; nil when -oidc-issuer is not given.
func (c *config) oidcProvider(baseURL string) *web.OIDCProvider {
	if c.OIDCIssuer == "" {
		return nil
	}
	return &web.OIDCProvider{Name: c.OIDCName, Issuer: c.OIDCIssuer, ClientID: c.OIDCClientID, ClientSecret: c.OIDCClientSecret,
		RedirectURL: baseURL + "/admin/oidc/" + c.OIDCName + "/callback", TenantID: c.OIDCTenant, HostedDomain: c.OIDCHostedDomain}
}

// twilio reports whether any Twilio credential is given: then the sender
// is built (and refuses an incomplete set) and the callbacks are mounted.
func (c *config) twilio() bool {
	return c.TwilioSID != "" || c.TwilioToken != "" || c.TwilioFrom != ""
}
