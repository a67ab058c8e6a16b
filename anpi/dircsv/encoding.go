package dircsv

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
)

// utf8BOM is the UTF-8 byte order mark.
const utf8BOM = "\xef\xbb\xbf"

// decode turns the raw bytes of a file into UTF-8 text according to enc, or
// returns an error naming the offending byte offset and line.
func decode(data []byte, enc Encoding) (string, error) {
	switch enc {
	case UTF8:
		data = bytes.TrimPrefix(data, []byte(utf8BOM))
		if off := invalidUTF8(data); off >= 0 {
			return "", fmt.Errorf("not valid UTF-8: byte 0x%02x at offset %d (line %d)", data[off], off, lineAt(data, off))
		}
		return checkControls(string(data))
	case ShiftJIS:
		text, off := decodeShiftJIS(data)
		if off >= 0 {
			return "", fmt.Errorf("not valid Shift_JIS: byte 0x%02x at offset %d (line %d)", data[off], off, lineAt(data, off))
		}
		return checkControls(text)
	case Auto:
	default:
		return "", fmt.Errorf("unknown encoding %d", int(enc))
	}
	if bytes.HasPrefix(data, []byte(utf8BOM)) {
		return decode(data, UTF8)
	}
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return "", fmt.Errorf("UTF-16 is not supported: save the file as CSV UTF-8 or CSV (Shift_JIS)")
	}
	u := invalidUTF8(data)
	if u < 0 {
		return checkControls(string(data))
	}
	if looksEUCJP(data) {
		return "", fmt.Errorf("not UTF-8 or Shift_JIS: the file looks like EUC-JP; save it as UTF-8 or Shift_JIS (or set Encoding to ShiftJIS to read it as Shift_JIS anyway)")
	}
	text, s := decodeShiftJIS(data)
	if s >= 0 {
		return "", fmt.Errorf("not UTF-8 or Shift_JIS: byte 0x%02x at offset %d (line %d) is invalid in UTF-8, byte 0x%02x at offset %d (line %d) in Shift_JIS",
			data[u], u, lineAt(data, u), data[s], s, lineAt(data, s))
	}
	return checkControls(text)
}

// decodeShiftJIS decodes data as Shift_JIS. off is the offset of the first
// bad character, or -1 when all is well. (The decoder marks bad input
// with U+FFFD, which no Shift_JIS character decodes to; only then is the
// input walked again to find where.)
func decodeShiftJIS(data []byte) (text string, off int) {
	out, err := japanese.ShiftJIS.NewDecoder().Bytes(data)
	if err != nil || bytes.Contains(out, []byte("\uFFFD")) {
		if off = invalidShiftJIS(data); off < 0 {
			off = 0 // not reached: the walk finds what the decoder found
		}
		return "", off
	}
	return string(out), -1
}

// invalidUTF8 returns the offset of the first byte that is not valid UTF-8,
// or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// invalidShiftJIS returns the offset of the first character that does not
// decode as Shift_JIS (a byte that cannot start a character, a bad second
// byte, an unassigned code), or -1.
func invalidShiftJIS(b []byte) int {
	dec := japanese.ShiftJIS.NewDecoder()
	var buf [8]byte
	for i := 0; i < len(b); {
		c := b[i]
		n := 1
		switch {
		case c < 0x80 || (0xA1 <= c && c <= 0xDF):
			i++
			continue
		case (0x81 <= c && c <= 0x9F) || (0xE0 <= c && c <= 0xFC):
			if i+1 >= len(b) {
				return i
			}
			n = 2
		default: // 0x80, 0xA0, 0xFD-0xFF
			return i
		}
		nd, _, err := dec.Transform(buf[:], b[i:i+n], true)
		if err != nil || bytes.Contains(buf[:nd], []byte("\uFFFD")) {
			return i
		}
		dec.Reset()
		i += n
	}
	return -1
}

// looksEUCJP reports whether b is valid EUC-JP with at least one non-ASCII
// character and none of the lead bytes 0x81-0x9F that Shift_JIS uses for
// kana and common kanji: Japanese text in Shift_JIS virtually always has
// them, EUC-JP never (except its 0x8E and 0x8F prefixes, checked here).
func looksEUCJP(b []byte) bool {
	high := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c < 0x80:
			continue
		case c == 0x8E: // half-width katakana
			if i+1 >= len(b) || b[i+1] < 0xA1 || b[i+1] > 0xDF {
				return false
			}
			i++
		case c == 0x8F: // JIS X 0212
			if i+2 >= len(b) || !eucByte(b[i+1]) || !eucByte(b[i+2]) {
				return false
			}
			i += 2
		case eucByte(c):
			if i+1 >= len(b) || !eucByte(b[i+1]) {
				return false
			}
			i++
		default:
			return false
		}
		high = true
	}
	return high
}

func eucByte(c byte) bool { return 0xA1 <= c && c <= 0xFE }

// lineAt returns the 1-based line of byte offset off.
func lineAt(b []byte, off int) int { return 1 + bytes.Count(b[:off], []byte{'\n'}) }

// checkControls refuses control characters other than tab, CR and LF: they
// do not occur in directory data, and binary files are full of them.
func checkControls(s string) (string, error) {
	line := 1
	for _, r := range s {
		switch {
		case r == '\n':
			line++
		case r == '\t' || r == '\r':
		case r < 0x20 || (0x7F <= r && r < 0xA0):
			return "", fmt.Errorf("control character U+%04X on line %d (is this a CSV file?)", r, line)
		}
	}
	return s, nil
}

// encodeShiftJIS converts s to Shift_JIS.
func encodeShiftJIS(s []byte) ([]byte, error) {
	return japanese.ShiftJIS.NewEncoder().Bytes(s)
}

// shiftJISBad returns the first character of s that Shift_JIS cannot carry
// exactly (not representable, or not decoded back to itself, such as ¥
// which becomes a backslash), and true; or 0 and false when s is fine.
func shiftJISBad(s string) (rune, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return 0, false
	}
	enc := japanese.ShiftJIS.NewEncoder()
	dec := japanese.ShiftJIS.NewDecoder()
	if b, err := enc.String(s); err == nil {
		if back, err := dec.String(b); err == nil && back == s {
			return 0, false
		}
	}
	for _, r := range s {
		b, err := enc.String(string(r))
		if err != nil {
			return r, true
		}
		if back, err := dec.String(b); err != nil || back != string(r) {
			return r, true
		}
	}
	return utf8.RuneError, true // unreachable: some character failed above
}
