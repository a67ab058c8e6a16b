package qrcode

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"unicode/utf8"

	goqr "github.com/piglig/go-qr"

	"github.com/anpikit/anpi/anpi"
)

// Level is the error correction level: how much of a damaged or soiled
// symbol can still be read, at the price of a larger symbol.
type Level int

// The error correction levels. The encoder raises the level for free when
// the text fits the same symbol at a higher one.
const (
	Medium   Level = iota // 15% of the symbol may be lost (the default)
	Low                   // 7%
	Quartile              // 25%
	High                  // 30%
)

// Limits of Options.
const (
	DefaultScale  = 8 // pixels per module: a 41-module link is 392 px square with the border
	DefaultBorder = 4 // modules of quiet zone around the symbol, the minimum the standard asks
	MaxScale      = 64
	MaxBorder     = 16
	// MaxTextLen is the longest text this package encodes, in bytes: far
	// more than a link needs, far less than a symbol holds.
	MaxTextLen = 1024
)

// Options configures PNG. A nil *Options means defaults.
type Options struct {
	// Scale is the size of a module in pixels; zero means DefaultScale.
	Scale int
	// Border is the quiet zone around the symbol in modules; zero means
	// DefaultBorder. Use NoBorder for none.
	Border int
	// Level is the error correction level; zero means Medium.
	Level Level
}

// NoBorder as Options.Border draws the symbol without a quiet zone, for
// pages that leave their own white margin around it.
const NoBorder = -1

// Symbol is an encoded QR code: Size modules square.
type Symbol struct {
	qr *goqr.QrCode
}

// Encode encodes text into the smallest symbol that holds it at level (or
// a higher one that fits the same size). Empty text, text that is not
// UTF-8 or longer than MaxTextLen, and an unknown level are
// anpi.InvalidArgument.
func Encode(text string, level Level) (*Symbol, error) {
	if text == "" || len(text) > MaxTextLen || !utf8.ValidString(text) {
		return nil, anpi.Errorf(anpi.InvalidArgument, "qrcode: text must be 1 to %d bytes of UTF-8, got %d bytes", MaxTextLen, len(text))
	}
	var ecl goqr.Ecc
	switch level {
	case Medium:
		ecl = goqr.Medium
	case Low:
		ecl = goqr.Low
	case Quartile:
		ecl = goqr.Quartile
	case High:
		ecl = goqr.High
	default:
		return nil, anpi.Errorf(anpi.InvalidArgument, "qrcode: unknown error correction level %d", level)
	}
	qr, err := goqr.EncodeText(text, ecl)
	if err != nil {
		code := anpi.Internal
		if errors.Is(err, goqr.ErrDataTooLong) || errors.Is(err, goqr.ErrUnencodableChar) {
			code = anpi.InvalidArgument
		}
		return nil, anpi.Errorf(code, "qrcode: encode %d bytes: %w", len(text), err)
	}
	return &Symbol{qr: qr}, nil
}

// Size returns the width of the symbol in modules: 17 + 4×version.
func (s *Symbol) Size() int { return s.qr.Size() }

// Dark reports whether the module at column x, row y is dark; outside the
// symbol it is light.
func (s *Symbol) Dark(x, y int) bool { return s.qr.Module(x, y) }

// Image draws the symbol black on white, scale pixels per module, with a
// quiet zone of border modules: (Size + 2×border) × scale pixels square.
func (s *Symbol) Image(scale, border int) *image.Paletted {
	n := (s.Size() + 2*border) * scale
	img := image.NewPaletted(image.Rect(0, 0, n, n), color.Palette{color.White, color.Black})
	for y := 0; y < n; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+n]
		my := y/scale - border
		for x := range row {
			if s.qr.Module(x/scale-border, my) {
				row[x] = 1
			}
		}
	}
	return img
}

// PNG renders text (a link) as a QR code PNG, black on white, one bit per
// pixel: (modules + 2×Border) × Scale pixels square. Errors are
// anpi.InvalidArgument for bad text or options (see Encode).
func PNG(text string, opts *Options) ([]byte, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.Scale == 0:
		o.Scale = DefaultScale
	case o.Scale < 0 || o.Scale > MaxScale:
		return nil, anpi.Errorf(anpi.InvalidArgument, "qrcode: scale %d: want 1 to %d pixels per module", o.Scale, MaxScale)
	}
	switch {
	case o.Border == 0:
		o.Border = DefaultBorder
	case o.Border == NoBorder:
		o.Border = 0
	case o.Border < 0 || o.Border > MaxBorder:
		return nil, anpi.Errorf(anpi.InvalidArgument, "qrcode: border %d: want 1 to %d modules, or NoBorder", o.Border, MaxBorder)
	}
	sym, err := Encode(text, o.Level)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, sym.Image(o.Scale, o.Border)); err != nil {
		return nil, anpi.Errorf(anpi.Internal, "qrcode: encode png: %w", err)
	}
	return buf.Bytes(), nil
}
