package smtp_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	fake "github.com/anpikit/anpi/internal/fake/smtp"
)

const jaMessage = "From: anpi@example.co.jp\r\n" +
	"To: taro@example.jp\r\n" +
	"Subject: =?UTF-8?B?44CQ5a6J5ZCm56K66KqN44CR5Zyw6ZyH55m655Sf?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"=E3=81=94=E7=84=A1=E4=BA=8B=E3=81=A7=E3=81=99=E3=81=8B=E3=80=82\r\n"

func start(t *testing.T, opts *fake.Options) *fake.Server {
	t.Helper()
	s, err := fake.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.True(t, strings.HasPrefix(s.Addr(), "127.0.0.1:"))
	return s
}

func codeOf(t *testing.T, err error) int {
	t.Helper()
	var te *textproto.Error
	require.True(t, errors.As(err, &te), "%v", err)
	return te.Code
}

func TestRecordsDecoded(t *testing.T) {
	s := start(t, nil)
	require.NoError(t, smtp.SendMail(s.Addr(), nil, "anpi@example.co.jp", []string{"taro@example.jp"}, []byte(jaMessage)))
	ms := s.Messages()
	require.Len(t, ms, 1)
	require.NoError(t, ms[0].DecodeErr)
	require.Equal(t, "【安否確認】地震発生", ms[0].Subject)
	require.Equal(t, "ご無事ですか。\r\n", ms[0].Text)
	require.Equal(t, []string{"taro@example.jp"}, ms[0].To)
	require.Equal(t, "anpi@example.co.jp", ms[0].From)
	require.Equal(t, 1, ms[0].Session)
	require.Equal(t, 1, s.Count())
	require.Equal(t, 1, s.Sessions())
}

func TestBase64Multipart(t *testing.T) {
	s := start(t, nil)
	body := base64.StdEncoding.EncodeToString([]byte("山田さん、ご無事ですか。"))
	raw := "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<p>html</p>\r\n" +
		"--b\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		body[:12] + "\r\n" + body[12:] + "\r\n--b--\r\n"
	require.NoError(t, smtp.SendMail(s.Addr(), nil, "a@example.jp", []string{"b@example.jp"}, []byte(raw)))
	ms := s.Messages()
	require.Len(t, ms, 1)
	require.NoError(t, ms[0].DecodeErr)
	require.Equal(t, "山田さん、ご無事ですか。", ms[0].Text)
}

func TestFaults(t *testing.T) {
	s := start(t, nil)
	tests := []struct {
		fault fake.Fault
		code  int
	}{{fake.Bounce, 550}, {fake.TempFail, 451}, {fake.RateLimit, 451}}
	for _, tt := range tests {
		s.Fail("bad@example.jp", tt.fault)
		err := smtp.SendMail(s.Addr(), nil, "a@example.jp", []string{"Bad@example.jp"}, []byte(jaMessage))
		require.Equal(t, tt.code, codeOf(t, err), "fault %d", tt.fault)
	}
	s.Fail("bad@example.jp", 0)
	require.NoError(t, smtp.SendMail(s.Addr(), nil, "a@example.jp", []string{"bad@example.jp"}, []byte(jaMessage)))
	require.Equal(t, 1, s.Count())
}

func TestHangRelease(t *testing.T) {
	s := start(t, nil)
	s.Fail("slow@example.jp", fake.Hang)
	done := make(chan error, 1)
	go func() {
		done <- smtp.SendMail(s.Addr(), nil, "a@example.jp", []string{"slow@example.jp"}, []byte(jaMessage))
	}()
	<-s.Hanging("slow@example.jp")
	s.Release("slow@example.jp")
	require.Equal(t, 451, codeOf(t, <-done))
	require.NoError(t, smtp.SendMail(s.Addr(), nil, "a@example.jp", []string{"slow@example.jp"}, []byte(jaMessage)))
}

func TestMaxRcptPerSession(t *testing.T) {
	s := start(t, &fake.Options{MaxRcptPerSession: 2})
	c, err := smtp.Dial(s.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Mail("a@example.jp"))
	require.NoError(t, c.Rcpt("1@example.jp"))
	require.NoError(t, c.Reset())
	require.NoError(t, c.Mail("a@example.jp"))
	require.NoError(t, c.Rcpt("2@example.jp"))
	require.Equal(t, 452, codeOf(t, c.Rcpt("3@example.jp")), "the limit counts the whole session, across RSET")
}

func TestAuth(t *testing.T) {
	s := start(t, &fake.Options{Username: "anpi", Password: "secret"})
	msg := []byte(jaMessage)
	err := smtp.SendMail(s.Addr(), nil, "a@example.jp", []string{"b@example.jp"}, msg)
	require.Equal(t, 530, codeOf(t, err), "MAIL before AUTH")
	err = smtp.SendMail(s.Addr(), smtp.PlainAuth("", "anpi", "wrong", "127.0.0.1"), "a@example.jp", []string{"b@example.jp"}, msg)
	require.Equal(t, 535, codeOf(t, err))
	require.NoError(t, smtp.SendMail(s.Addr(), smtp.PlainAuth("", "anpi", "secret", "127.0.0.1"), "a@example.jp", []string{"b@example.jp"}, msg))
}

func TestTLS(t *testing.T) {
	ts := httptest.NewTLSServer(nil) // for its self-signed 127.0.0.1 certificate
	cert := ts.TLS.Certificates[0]
	ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	for _, implicit := range []bool{false, true} {
		s := start(t, &fake.Options{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ImplicitTLS: implicit})
		var c *smtp.Client
		if implicit {
			conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			require.NoError(t, err)
			c, err = smtp.NewClient(conn, "127.0.0.1")
			require.NoError(t, err)
		} else {
			var err error
			c, err = smtp.Dial(s.Addr())
			require.NoError(t, err)
			ok, _ := c.Extension("STARTTLS")
			require.True(t, ok)
			require.NoError(t, c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
		}
		_, isTLS := c.TLSConnectionState()
		require.True(t, isTLS)
		require.NoError(t, c.Mail("a@example.jp"))
		require.NoError(t, c.Rcpt("b@example.jp"))
		w, err := c.Data()
		require.NoError(t, err)
		_, err = w.Write([]byte(jaMessage))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		require.NoError(t, c.Quit())
		require.Equal(t, 1, s.Count())
	}
	_, err := fake.Start(&fake.Options{ImplicitTLS: true})
	require.Error(t, err)
}

func TestFailFrom(t *testing.T) {
	s := start(t, nil)
	for _, tt := range []struct {
		f    fake.Fault
		code int
	}{{fake.Bounce, 550}, {fake.TempFail, 451}, {fake.RateLimit, 454}} {
		s.FailFrom("anpi@example.co.jp", tt.f)
		err := smtp.SendMail(s.Addr(), nil, "ANPI@example.co.jp", []string{"b@example.jp"}, []byte(jaMessage))
		require.Equal(t, tt.code, codeOf(t, err))
	}
	s.FailFrom("anpi@example.co.jp", 0)
	require.NoError(t, smtp.SendMail(s.Addr(), nil, "anpi@example.co.jp", []string{"b@example.jp"}, []byte(jaMessage)))
}
