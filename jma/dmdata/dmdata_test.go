package dmdata

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anpikit/anpi/jma"
	"github.com/stretchr/testify/require"
)

// fakeDMDATA is a local stand-in for api.dmdata.jp: a socket-start endpoint
// and a WebSocket endpoint that plays a script of server messages.
type fakeDMDATA struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	starts   []startRequest
	auth     []string
	script   func(c *wsConn) // run per WebSocket connection
	pongs    []string
	ctlPongs int
	protocol string
}

func newFake(t *testing.T) *fakeDMDATA {
	f := &fakeDMDATA{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/socket", func(w http.ResponseWriter, r *http.Request) {
		var req startRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		user, _, _ := r.BasicAuth()
		f.mu.Lock()
		f.starts = append(f.starts, req)
		f.auth = append(f.auth, user)
		f.mu.Unlock()
		if user != "good-key" {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"status": "error", "error": map[string]any{"message": "Unauthorized", "code": 401}})
			return
		}
		wsURL := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/v2/websocket?ticket=t1"
		json.NewEncoder(w).Encode(map[string]any{"status": "ok", "websocket": map[string]any{"id": 1, "url": wsURL, "protocol": []string{Protocol}, "expiration": 300}})
	})
	mux.HandleFunc("GET /v2/websocket", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.protocol = r.Header.Get("Sec-WebSocket-Protocol")
		f.mu.Unlock()
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		conn, brw, err := hj.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\nSec-WebSocket-Protocol: " + Protocol + "\r\n\r\n"
		if _, err := conn.Write([]byte(resp)); err != nil {
			return
		}
		c := &wsConn{conn: conn, br: bufio.NewReader(brw), maxSize: 1 << 20}
		f.script(c)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func sendJSON(t *testing.T, c *wsConn, v any) {
	b, err := json.Marshal(v)
	check(t, err == nil, "marshal: %v", err)
	check(t, c.writeFrame(opText, b) == nil, "write message")
}

// sendFragmented sends v as a text message in three frames.
func sendFragmented(t *testing.T, c *wsConn, v any) {
	b, err := json.Marshal(v)
	check(t, err == nil, "marshal: %v", err)
	n := len(b) / 3
	write := func(first byte, p []byte) {
		hdr := []byte{first, 126, byte(len(p) >> 8), byte(len(p))}
		_, err := c.conn.Write(append(hdr, p...))
		check(t, err == nil, "write fragment: %v", err)
	}
	write(opText, b[:n])
	write(opContinuation, b[n:2*n])
	write(0x80|opContinuation, b[2*n:])
}

func gzipB64(t *testing.T, b []byte) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	check(t, err == nil, "gzip: %v", err)
	check(t, zw.Close() == nil, "gzip close")
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func fixture(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	require.NoError(t, err)
	return b
}

func dataMsg(id, typ string, test bool, enc, comp, body string) map[string]any {
	return map[string]any{"type": "data", "version": "2.0", "id": id, "classification": "telegram.earthquake",
		"head":   map[string]any{"type": typ, "author": "気象庁", "test": test, "xml": true},
		"format": "xml", "compression": comp, "encoding": enc, "body": body}
}

// readClient reads one client frame (unmasking it); on error it returns
// opClose and the error text, which the checks below then report.
func readClient(c *wsConn) (byte, []byte) {
	f, err := c.readFrame(1 << 20)
	if err != nil {
		return opClose, []byte(err.Error())
	}
	return f.op, f.payload
}

// waitGone blocks until the client closes the connection.
func waitGone(c *wsConn) {
	for {
		if _, err := c.readFrame(1 << 20); err != nil {
			return
		}
	}
}

// check records a failed expectation from a server goroutine (t.Errorf is
// safe there; require's FailNow is not).
func check(t *testing.T, ok bool, format string, args ...any) {
	if !ok {
		t.Errorf(format, args...)
	}
}

type instantClock struct{ waits []time.Duration }

func (c *instantClock) Now() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }
func (c *instantClock) After(d time.Duration) <-chan time.Time {
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

func TestSourceReceivesTelegrams(t *testing.T) {
	f := newFake(t)
	eew := fixture(t, "vxse43_plum.xml")
	quake := fixture(t, "vxse53_event_b_s1.xml")
	drill := fixture(t, "vxse53_training.xml")
	later := fixture(t, "vxse53_event_b_s2.xml")
	conns := 0
	f.script = func(c *wsConn) {
		conns++
		if conns == 1 {
			sendJSON(t, c, map[string]any{"type": "start", "socketId": 1, "classifications": []string{"telegram.earthquake"}, "test": "no"})
			sendJSON(t, c, map[string]any{"type": "ping", "pingId": "p-1"})
			op, b := readClient(c)
			check(t, op == opText, "pong message: opcode %d (%s)", op, b)
			var pong map[string]string
			check(t, json.Unmarshal(b, &pong) == nil, "pong message %q is not JSON", b)
			f.mu.Lock()
			f.pongs = append(f.pongs, pong["type"]+":"+pong["pingId"])
			f.mu.Unlock()
			// A WebSocket-level ping is answered with a pong control frame.
			check(t, c.writeFrame(opPing, []byte("hb")) == nil, "write ping")
			op, b = readClient(c)
			check(t, op == opPong && string(b) == "hb", "control pong: opcode %d payload %q", op, b)
			f.mu.Lock()
			f.ctlPongs++
			f.mu.Unlock()
			sendJSON(t, c, dataMsg("d1", "VXSE43", false, "base64", "gzip", gzipB64(t, eew)))
			sendJSON(t, c, dataMsg("d2", "VXSE53", true, "base64", "gzip", gzipB64(t, drill))) // test telegram: dropped
			sendFragmented(t, c, dataMsg("d3", "VXSE53", false, "utf-8", "", string(quake)))
			sendJSON(t, c, dataMsg("d1", "VXSE43", false, "base64", "gzip", gzipB64(t, eew))) // duplicate id: dropped
			// The server goes away: the source reconnects.
			check(t, c.writeFrame(opClose, []byte{0x03, 0xE8}) == nil, "write close")
			return
		}
		sendJSON(t, c, dataMsg("d4", "VXSE53", false, "base64", "gzip", gzipB64(t, later)))
		waitGone(c)
	}
	clock := &instantClock{}
	src, err := New(&Options{APIKey: "good-key", Endpoint: f.srv.URL + "/v2/socket", Classifications: []string{"telegram.earthquake"}, Clock: clock, AppName: "anpi-test"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []jma.Document
	err = src.Run(ctx, func(d jma.Document) error {
		got = append(got, d)
		if len(got) == 3 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, got, 3)
	require.Equal(t, eew, got[0].Data)
	require.Equal(t, "VXSE43", got[0].Type)
	require.Equal(t, quake, got[1].Data)
	require.Equal(t, "dmdata:d4", got[2].URL)
	for _, d := range got {
		r, err := jma.Parse(d.Data)
		require.NoError(t, err)
		require.True(t, r.Control.Status.Real())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Equal(t, []string{"pong:p-1"}, f.pongs)
	require.Equal(t, 1, f.ctlPongs)
	require.Equal(t, Protocol, f.protocol)
	require.Len(t, f.starts, 2, "one socket start per connection")
	require.Equal(t, "no", f.starts[0].Test, "drills only when asked for")
	require.Equal(t, "raw", f.starts[0].FormatMode)
	require.Equal(t, []string{"telegram.earthquake"}, f.starts[0].Classifications)
	require.Equal(t, []time.Duration{time.Second}, clock.waits)
}

func TestSourceIncludeTestAndRefusal(t *testing.T) {
	f := newFake(t)
	drill := fixture(t, "vxse53_training.xml")
	f.script = func(c *wsConn) {
		sendJSON(t, c, dataMsg("x1", "VXSE53", true, "base64", "gzip", gzipB64(t, drill)))
		waitGone(c)
	}
	src, err := New(&Options{APIKey: "good-key", Endpoint: f.srv.URL + "/v2/socket", IncludeTest: true, Clock: &instantClock{}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var got []jma.Document
	err = src.Run(ctx, func(d jma.Document) error { got = append(got, d); cancel(); return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, got, 1)
	require.Equal(t, "including", f.starts[0].Test)

	bad, err := New(&Options{APIKey: "bad-key", Endpoint: f.srv.URL + "/v2/socket", Clock: &instantClock{}})
	require.NoError(t, err)
	err = bad.Run(context.Background(), func(jma.Document) error { return nil })
	require.ErrorContains(t, err, "socket start refused: Unauthorized (code 401)")

	_, err = New(nil)
	require.Error(t, err)
	_, err = New(&Options{APIKey: "k", Types: make([]string, 31)})
	require.ErrorContains(t, err, "at most 30")
}

func TestReadMessageLimits(t *testing.T) {
	f := newFake(t)
	f.script = func(c *wsConn) {
		sendJSON(t, c, map[string]any{"type": "data", "body": strings.Repeat("x", 4096)})
		waitGone(c)
	}
	src, err := New(&Options{APIKey: "good-key", Endpoint: f.srv.URL + "/v2/socket", MaxSize: 1024, Clock: &instantClock{}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wsURL, err := src.start(ctx)
	require.NoError(t, err)
	c, err := dialWS(ctx, wsURL, Protocol, "", nil, 1024)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.readMessage()
	require.ErrorContains(t, err, "message over 1024 bytes")
}
