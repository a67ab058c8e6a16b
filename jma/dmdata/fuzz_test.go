package dmdata

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"testing"
)

// discardConn is a net.Conn whose writes (pongs, close replies) go nowhere.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
func (discardConn) Close() error                { return nil }

// FuzzReadMessage feeds arbitrary bytes to the frame reader and the message
// decoder: neither may panic, and messages stay within the size bound.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0x01, 0x02, '{', '"', 0x80, 0x01, '}'})
	f.Add([]byte{0x89, 0x00, 0x81, 0x02, '{', '}'})
	f.Add([]byte{0x81, 0x7F, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	msg, _ := json.Marshal(map[string]any{"type": "data", "id": "1", "format": "xml", "encoding": "base64", "compression": "gzip", "body": "H4sIAAAAAAAA/w=="})
	f.Add(append([]byte{0x81, byte(len(msg))}, msg...))
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 12
		c := &wsConn{conn: discardConn{}, br: bufio.NewReader(bytes.NewReader(data)), maxSize: limit}
		src, err := New(&Options{APIKey: "k", Clock: &instantClock{}})
		if err != nil {
			t.Fatal(err)
		}
		for range 8 {
			m, err := c.readMessage()
			if err != nil {
				return // EOF, a protocol error or the size bound: all end the connection
			}
			if len(m) > limit {
				t.Fatalf("message of %d bytes over the %d limit", len(m), limit)
			}
			var dm message
			if json.Unmarshal(m, &dm) == nil {
				_, _, _ = src.document(&dm)
			}
		}
	})
}
