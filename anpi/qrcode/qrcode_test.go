package qrcode_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	goqr "github.com/piglig/go-qr"
	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/qrcode"
)

// link is a registration link as Service.Invite makes them.
const link = "https://anpi.example.co.jp/r/q0Jk9PAe1Cc1yZ0aWJ2s3yqmQ0aX0nq5HqD2WmNbG8o"

func TestPNGDecodesToTheLink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   *qrcode.Options
		scale  int
		border int
	}{
		{"defaults", nil, qrcode.DefaultScale, qrcode.DefaultBorder},
		{"small", &qrcode.Options{Scale: 3, Border: 2}, 3, 2},
		{"no border, high", &qrcode.Options{Scale: 5, Border: qrcode.NoBorder, Level: qrcode.High}, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := qrcode.PNG(link, tc.opts)
			require.NoError(t, err)
			img, err := png.Decode(bytes.NewReader(b))
			require.NoError(t, err)

			level := qrcode.Medium
			if tc.opts != nil {
				level = tc.opts.Level
			}
			sym, err := qrcode.Encode(link, level)
			require.NoError(t, err)
			require.Zero(t, (sym.Size()-17)%4, "a symbol is 17 + 4×version modules")
			n := (sym.Size() + 2*tc.border) * tc.scale
			require.Equal(t, n, img.Bounds().Dx())
			require.Equal(t, n, img.Bounds().Dy())

			// Modules are drawn where the symbol says, the quiet zone is white.
			_, _, _, a := img.At(0, 0).RGBA()
			require.NotZero(t, a)
			dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x8000 }
			for y := 0; y < sym.Size(); y++ {
				for x := 0; x < sym.Size(); x++ {
					px, py := (x+tc.border)*tc.scale+tc.scale/2, (y+tc.border)*tc.scale+tc.scale/2
					require.Equal(t, sym.Dark(x, y), dark(px, py), "module %d,%d", x, y)
				}
			}
			if tc.border > 0 {
				require.False(t, dark(0, 0))
				require.False(t, dark(n-1, n-1))
			}

			if tc.border > 0 { // a reader needs the quiet zone
				text, err := goqr.Decode(img)
				require.NoError(t, err)
				require.Equal(t, link, text)
			}
		})
	}
}

func TestPNGIsSmall(t *testing.T) {
	b, err := qrcode.PNG(link, nil)
	require.NoError(t, err)
	require.Less(t, len(b), 4096, "one bit per pixel")
}

func TestPNGRefusesBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		text string
		opts *qrcode.Options
	}{
		"empty text":    {"", nil},
		"too long":      {strings.Repeat("a", qrcode.MaxTextLen+1), nil},
		"not utf-8":     {"\xff\xfe", nil},
		"scale":         {link, &qrcode.Options{Scale: -2}},
		"huge scale":    {link, &qrcode.Options{Scale: qrcode.MaxScale + 1}},
		"border":        {link, &qrcode.Options{Border: -3}},
		"huge border":   {link, &qrcode.Options{Border: qrcode.MaxBorder + 1}},
		"unknown level": {link, &qrcode.Options{Level: 9}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := qrcode.PNG(tc.text, tc.opts)
			require.Error(t, err)
			require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "%v", err)
		})
	}
	// Text that no symbol holds at High (but within MaxTextLen) is refused too.
	_, err := qrcode.Encode(strings.Repeat("\x01\x02", 700), qrcode.High)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "%v", err)
}
