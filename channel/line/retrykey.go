package line

import (
	"crypto/rand"
	"crypto/sha1"
	"fmt"
	"strings"
)

// namespace is the UUID namespace of AnpiKit's retry keys (a random UUID
// fixed once).
const namespace = "\x6b\x1f\x3c\x52\x8e\x0d\x4a\x77\x9c\x21\x5e\x3b\xa4\x10\xd2\x8f"

// RetryKey returns the X-Line-Retry-Key for a request: a name-based UUID
// (version 5: SHA-1 of a namespace and the name) of the request kind and
// the idempotency keys of its messages, so the retry of the same request
// after a crash carries the same key and LINE answers 409 instead of
// delivering twice. Without idempotency keys it returns a random UUID
// (version 4).
func RetryKey(kind string, idempotencyKeys ...string) string {
	var u [16]byte
	if len(idempotencyKeys) == 0 || (len(idempotencyKeys) == 1 && idempotencyKeys[0] == "") {
		_, _ = rand.Read(u[:])
		u[6] = u[6]&0x0f | 0x40
	} else {
		h := sha1.New()
		h.Write([]byte(namespace))
		h.Write([]byte(kind))
		for _, k := range idempotencyKeys {
			h.Write([]byte{0})
			h.Write([]byte(k))
		}
		copy(u[:], h.Sum(nil))
		u[6] = u[6]&0x0f | 0x50
	}
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// validUserID reports whether id looks like a LINE user ID: U and 32
// lower-case hex digits.
func validUserID(id string) bool {
	if len(id) != 33 || id[0] != 'U' {
		return false
	}
	return strings.Trim(id[1:], "0123456789abcdef") == ""
}
