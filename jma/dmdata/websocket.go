package dmdata

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// A minimal RFC 6455 WebSocket client: enough for DMDATA's text messages
// (handshake with a subprotocol, masked client frames, fragmentation, ping,
// pong and close control frames), with a bound on message size.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// errClosed is returned when the peer closed the connection.
var errClosed = errors.New("websocket closed by peer")

type wsConn struct {
	conn    net.Conn
	br      *bufio.Reader
	mu      sync.Mutex // serialises writes
	client  bool       // mask outgoing frames
	maxSize int64
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// dialWS opens a WebSocket connection to u (ws or wss) asking for protocol.
func dialWS(ctx context.Context, u string, protocol, userAgent string, tlsConfig *tls.Config, maxSize int64) (*wsConn, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("dmdata: websocket url: %w", err)
	}
	host := pu.Host
	secure := false
	switch pu.Scheme {
	case "ws":
		if pu.Port() == "" {
			host += ":80"
		}
	case "wss":
		secure = true
		if pu.Port() == "" {
			host += ":443"
		}
	default:
		return nil, fmt.Errorf("dmdata: websocket url %q: scheme must be ws or wss", u)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("dmdata: dial %s: %w", host, err)
	}
	if secure {
		cfg := &tls.Config{}
		if tlsConfig != nil {
			cfg = tlsConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = pu.Hostname()
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("dmdata: tls handshake %s: %w", host, err)
		}
		conn = tc
	}
	// Abort the handshake when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("dmdata: websocket key: %w", err)
	}
	key := base64.StdEncoding.EncodeToString(raw[:])
	req := &http.Request{Method: http.MethodGet, URL: pu, Host: pu.Host, Header: http.Header{}, ProtoMajor: 1, ProtoMinor: 1}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if protocol != "" {
		req.Header.Set("Sec-WebSocket-Protocol", protocol)
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("dmdata: websocket handshake: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dmdata: websocket handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		conn.Close()
		return nil, fmt.Errorf("dmdata: websocket handshake: unexpected response %s", resp.Status)
	}
	return &wsConn{conn: conn, br: br, client: true, maxSize: maxSize}, nil
}

func (c *wsConn) Close() error { return c.conn.Close() }

// writeFrame writes one unfragmented frame.
func (c *wsConn) writeFrame(op byte, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	hdr := make([]byte, 0, 14)
	hdr = append(hdr, 0x80|op)
	maskBit := byte(0)
	if c.client {
		maskBit = 0x80
	}
	n := len(payload)
	switch {
	case n < 126:
		hdr = append(hdr, maskBit|byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, maskBit|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, maskBit|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	data := payload
	if c.client {
		var mask [4]byte
		if _, err := rand.Read(mask[:]); err != nil {
			return err
		}
		hdr = append(hdr, mask[:]...)
		data = make([]byte, n)
		for i := range payload {
			data[i] = payload[i] ^ mask[i%4]
		}
	}
	if _, err := c.conn.Write(append(hdr, data...)); err != nil {
		return fmt.Errorf("dmdata: websocket write: %w", err)
	}
	return nil
}

type frame struct {
	fin     bool
	op      byte
	payload []byte
}

func (c *wsConn) readFrame(limit int64) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, op: h[0] & 0x0F}
	if h[0]&0x70 != 0 {
		return f, errors.New("dmdata: websocket: reserved bits set")
	}
	masked := h[1]&0x80 != 0
	n := int64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = int64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		u := binary.BigEndian.Uint64(b[:])
		if u > 1<<62 {
			return f, errors.New("dmdata: websocket: frame too large")
		}
		n = int64(u)
	}
	if f.op >= opClose && (n > 125 || !f.fin) {
		return f, errors.New("dmdata: websocket: invalid control frame")
	}
	if n > limit {
		return f, fmt.Errorf("dmdata: websocket: message over %d bytes", c.maxSize)
	}
	var mask [4]byte
	if masked {
		if _, err := io.ReadFull(c.br, mask[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return f, err
	}
	if masked {
		for i := range f.payload {
			f.payload[i] ^= mask[i%4]
		}
	}
	return f, nil
}

// readMessage returns the next text or binary message, answering pings and
// reassembling fragments.
func (c *wsConn) readMessage() ([]byte, error) {
	var msg []byte
	started := false
	for {
		f, err := c.readFrame(c.maxSize - int64(len(msg)))
		if err != nil {
			return nil, err
		}
		switch f.op {
		case opPing:
			if err := c.writeFrame(opPong, f.payload); err != nil {
				return nil, err
			}
			continue
		case opPong:
			continue
		case opClose:
			_ = c.writeFrame(opClose, f.payload)
			return nil, errClosed
		case opText, opBinary:
			if started {
				return nil, errors.New("dmdata: websocket: new message inside a fragmented one")
			}
			started = true
			msg = f.payload
		case opContinuation:
			if !started {
				return nil, errors.New("dmdata: websocket: continuation without a message")
			}
			msg = append(msg, f.payload...)
		default:
			return nil, fmt.Errorf("dmdata: websocket: unknown opcode %d", f.op)
		}
		if f.fin {
			return msg, nil
		}
	}
}
