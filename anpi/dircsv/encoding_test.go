package dircsv

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/japanese"
)

func TestDecode(t *testing.T) {
	const text = "社員番号,氏名\nE0001,山田 太郎\nE0002,ﾔﾏﾀﾞ\n"
	eucJP, err := japanese.EUCJP.NewEncoder().Bytes([]byte(text))
	require.NoError(t, err)
	binary := []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R', 0xff, 0xfe}
	for _, tc := range []struct {
		name string
		in   []byte
		enc  Encoding
		want string
		err  string
	}{
		{name: "utf-8", in: []byte(text), want: text},
		{name: "utf-8 with BOM", in: append([]byte("\xef\xbb\xbf"), text...), want: text},
		{name: "explicit utf-8 with BOM", in: append([]byte("\xef\xbb\xbf"), text...), enc: UTF8, want: text},
		{name: "shift_jis", in: sjis(t, text), want: text},
		{name: "explicit shift_jis", in: sjis(t, text), enc: ShiftJIS, want: text},
		{name: "ascii as shift_jis", in: []byte("a,b\n"), enc: ShiftJIS, want: "a,b\n"},
		{name: "euc-jp", in: eucJP, err: "looks like EUC-JP"},
		{name: "binary", in: binary, err: "not UTF-8 or Shift_JIS: byte 0x89 at offset 0 (line 1) is invalid in UTF-8, byte 0xff at offset 16 (line 3) in Shift_JIS"},
		{name: "control characters", in: []byte("a,b\n\x00\x01,c\n"), err: "control character U+0000 on line 2"},
		{name: "utf-16", in: []byte{0xff, 0xfe, 'a', 0}, err: "UTF-16 is not supported"},
		{name: "shift_jis read as utf-8", in: sjis(t, text), enc: UTF8, err: "not valid UTF-8: byte 0x8e at offset 0"},
		{name: "bad byte on line 3", in: []byte("a,b\nc,d\ne,\xa0\n"), enc: ShiftJIS, err: "not valid Shift_JIS: byte 0xa0 at offset 10 (line 3)"},
		{name: "truncated shift_jis", in: sjis(t, "a,山")[:3], err: "not UTF-8 or Shift_JIS"},
		{name: "unassigned shift_jis code", in: []byte("a,\x85\x40\n"), err: "offset 2 (line 1) in Shift_JIS"},
		{name: "unknown encoding", in: []byte("a"), enc: Encoding(9), err: "unknown encoding 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode(tc.in, tc.enc)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestShiftJISBad(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bad  bool
		char rune
	}{
		{in: "plain ascii"},
		{in: "山田 太郎 ﾔﾏﾀﾞ ①"},
		{in: "吉田 𠮷田", bad: true, char: '𠮷'},
		{in: "価格¥100", bad: true, char: '¥'}, // encodes as 0x5C, which reads back as a backslash
		{in: "emoji 😀", bad: true, char: '😀'},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, bad := shiftJISBad(tc.in)
			require.Equal(t, tc.bad, bad)
			require.Equal(t, tc.char, r)
		})
	}
}
