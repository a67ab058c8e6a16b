package smtp

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// Options configures a Server. A nil *Options means the defaults: no AUTH,
// no TLS, no limit.
type Options struct {
	// Username and Password, when Username is set, make the server require
	// AUTH PLAIN before MAIL; a wrong pair gets 535 5.7.8.
	Username, Password string
	// TLSConfig, when set, makes the server offer STARTTLS with it.
	TLSConfig *tls.Config
	// ImplicitTLS makes the listener speak TLS from the first byte (SMTPS,
	// port 465 in production); it needs TLSConfig.
	ImplicitTLS bool
	// MaxRcptPerSession limits the RCPT commands accepted on one
	// connection (0: no limit); beyond it RCPT gets 452 4.5.3.
	MaxRcptPerSession int
	// CountOnly keeps counts but not messages, for benchmarks.
	CountOnly bool
}

// Fault is a failure the server produces for a recipient.
type Fault int

// The faults.
const (
	// Bounce answers RCPT with 550 5.1.1 (user unknown).
	Bounce Fault = iota + 1
	// TempFail answers RCPT with 451 4.3.0 (a temporary failure).
	TempFail
	// RateLimit answers RCPT with 451 4.7.1 "rate limit exceeded".
	RateLimit
	// Hang never answers RCPT, until Release or Close.
	Hang
)

// Message is one accepted message.
type Message struct {
	Session int         // 1-based number of the connection it came on
	From    string      // MAIL FROM
	To      []string    // RCPT TO
	Raw     []byte      // the message as received
	Header  mail.Header // the parsed header
	Subject string      // decoded
	Text    string      // the decoded text/plain body
	// DecodeErr is set when the message could not be decoded; Raw is kept.
	DecodeErr error
}

// Server is a running fake SMTP server.
type Server struct {
	opts Options
	srv  *gosmtp.Server
	ln   net.Listener
	done chan struct{}

	mu       sync.Mutex
	faults   map[string]Fault
	from     map[string]Fault
	release  map[string]chan struct{}
	hanging  map[string]chan struct{}
	msgs     []Message
	count    int
	sessions int
	rcpts    int
	closed   bool
}

// Start starts a server on 127.0.0.1 on a free port.
func Start(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ImplicitTLS && o.TLSConfig == nil {
		return nil, errors.New("fake smtp: ImplicitTLS needs a TLSConfig")
	}
	s := &Server{opts: o, done: make(chan struct{}), faults: map[string]Fault{}, from: map[string]Fault{}, release: map[string]chan struct{}{}, hanging: map[string]chan struct{}{}}
	srv := gosmtp.NewServer(backend{s})
	srv.Domain = "fake.smtp.localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.AllowInsecureAuth = o.TLSConfig == nil
	srv.EnableSMTPUTF8 = true
	srv.MaxMessageBytes = 10 << 20
	if !o.ImplicitTLS {
		srv.TLSConfig = o.TLSConfig
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake smtp: listen: %w", err)
	}
	if o.ImplicitTLS {
		ln = tls.NewListener(ln, o.TLSConfig)
	}
	s.srv, s.ln = srv, ln
	go func() { _ = srv.Serve(ln) }()
	return s, nil
}

// Addr returns the server's address, 127.0.0.1:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns "127.0.0.1".
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops the server, closes its connections and releases Hang faults.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	// Close the listener too: Serve may not have registered it yet.
	lerr := s.ln.Close()
	err := s.srv.Close()
	if errors.Is(err, net.ErrClosed) || errors.Is(err, gosmtp.ErrServerClosed) {
		err = nil
	}
	if errors.Is(lerr, net.ErrClosed) {
		lerr = nil
	}
	return errors.Join(err, lerr)
}

// Fail makes RCPT TO:<rcpt> meet fault f (0 clears it). Addresses compare
// case-insensitively.
func (s *Server) Fail(rcpt string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rcpt = strings.ToLower(rcpt)
	if f == 0 {
		delete(s.faults, rcpt)
		return
	}
	s.faults[rcpt] = f
	if f == Hang {
		if _, ok := s.release[rcpt]; !ok {
			s.release[rcpt] = make(chan struct{})
			s.hanging[rcpt] = make(chan struct{})
		}
	}
}

// FailFrom makes MAIL FROM:<from> meet fault f (0 clears it): Bounce
// answers 550 5.7.1 (sender refused), TempFail 451 4.3.0, RateLimit 454
// 4.7.0 "Throttling failure: Maximum sending rate exceeded" (as Amazon SES).
// Hang is not supported here.
func (s *Server) FailFrom(from string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from = strings.ToLower(from)
	if f == 0 {
		delete(s.from, from)
		return
	}
	s.from[from] = f
}

// Hanging returns a channel that is closed once a RCPT TO:<rcpt> hangs on
// a Hang fault, or nil if rcpt has no Hang fault.
func (s *Server) Hanging(rcpt string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hanging[strings.ToLower(rcpt)]
}

// Release answers the RCPT commands hanging on rcpt (with 451 4.4.2) and
// clears the fault.
func (s *Server) Release(rcpt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rcpt = strings.ToLower(rcpt)
	if ch, ok := s.release[rcpt]; ok {
		close(ch)
		delete(s.release, rcpt)
		delete(s.hanging, rcpt)
	}
	delete(s.faults, rcpt)
}

// Messages returns the messages accepted so far (none with CountOnly).
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Count returns the number of messages accepted so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Sessions returns the number of connections opened so far.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

type backend struct{ s *Server }

// NewSession counts the connection and starts its session.
func (b backend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	b.s.sessions++
	return &session{s: b.s, id: b.s.sessions}, nil
}

type session struct {
	s     *Server
	id    int
	authd bool
	rcpts int // RCPT commands accepted on this connection
	from  string
	to    []string
}

var _ gosmtp.AuthSession = (*session)(nil)

// AuthMechanisms offers PLAIN when the server has credentials.
func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth checks PLAIN credentials against Options.
func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, gosmtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return gosmtp.ErrAuthFailed
		}
		ss.authd = true
		return nil
	}), nil
}

// Mail requires AUTH when the server has credentials.
func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.s.opts.Username != "" && !ss.authd {
		return &gosmtp.SMTPError{Code: 530, EnhancedCode: gosmtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	ss.s.mu.Lock()
	f := ss.s.from[strings.ToLower(from)]
	ss.s.mu.Unlock()
	switch f {
	case Bounce:
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "Sender address rejected: not owned by user"}
	case TempFail:
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem, try again later"}
	case RateLimit:
		return &gosmtp.SMTPError{Code: 454, EnhancedCode: gosmtp.EnhancedCode{4, 7, 0}, Message: "Throttling failure: Maximum sending rate exceeded."}
	}
	ss.from = from
	return nil
}

// Rcpt applies the session limit and the recipient's fault.
func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s := ss.s
	s.mu.Lock()
	f := s.faults[strings.ToLower(to)]
	rel := s.release[strings.ToLower(to)]
	if h := s.hanging[strings.ToLower(to)]; f == Hang && h != nil {
		select {
		case <-h:
		default:
			close(h)
		}
	}
	s.mu.Unlock()
	if limit := s.opts.MaxRcptPerSession; limit > 0 && ss.rcpts >= limit {
		return &gosmtp.SMTPError{Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 5, 3}, Message: fmt.Sprintf("Too many recipients in this session (max %d)", limit)}
	}
	switch f {
	case Bounce:
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: Recipient address rejected: User unknown"}
	case TempFail:
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem, try again later"}
	case RateLimit:
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "Throttling failure: rate limit exceeded"}
	case Hang:
		select {
		case <-rel:
		case <-s.done:
		}
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 4, 2}, Message: "Hung recipient released"}
	}
	ss.rcpts++
	ss.to = append(ss.to, to)
	return nil
}

// Data records (or counts) the message.
func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	if s.opts.CountOnly {
		s.mu.Lock()
		s.count++
		s.mu.Unlock()
		return nil
	}
	m := decode(raw)
	m.Session, m.From, m.To = ss.id, ss.from, append([]string(nil), ss.to...)
	s.mu.Lock()
	s.count++
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	return nil
}

// Reset forgets the envelope; the session's RCPT count stays.
func (ss *session) Reset() { ss.from, ss.to = "", nil }

// Logout does nothing.
func (ss *session) Logout() error { return nil }

// decode parses raw into a Message: header, decoded subject and the first
// text/plain part, transfer-decoded.
func decode(raw []byte) Message {
	m := Message{Raw: raw}
	pm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.DecodeErr = fmt.Errorf("fake smtp: parse message: %w", err)
		return m
	}
	m.Header = pm.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(pm.Header.Get("Subject")); err != nil {
		m.DecodeErr = fmt.Errorf("fake smtp: decode subject: %w", err)
	}
	text, err := textPart(pm.Header.Get("Content-Type"), pm.Header.Get("Content-Transfer-Encoding"), pm.Body)
	if err != nil && m.DecodeErr == nil {
		m.DecodeErr = err
	}
	m.Text = text
	return m
}

func textPart(ctype, cte string, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if ctype == "" {
		mt, err = "text/plain", nil
	}
	if err != nil {
		return "", fmt.Errorf("fake smtp: content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", errors.New("fake smtp: no text/plain part")
			}
			if err != nil {
				return "", fmt.Errorf("fake smtp: multipart: %w", err)
			}
			t, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err == nil {
				return t, nil
			}
		}
	}
	if mt != "text/plain" {
		return "", fmt.Errorf("fake smtp: part %q is not text/plain", mt)
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return "", fmt.Errorf("fake smtp: charset %q: only utf-8 is decoded", cs)
	}
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("fake smtp: decode body (%s): %w", cte, err)
	}
	return string(b), nil
}

// newlineStripper drops CR and LF, which base64 bodies are folded with.
type newlineStripper struct{ r io.Reader }

// Read reads from r without CR and LF.
func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
