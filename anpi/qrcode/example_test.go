package qrcode_test

import (
	"bytes"
	"fmt"
	"image/png"

	"github.com/anpikit/anpi/anpi/qrcode"
)

// A registration link (anpi.Service.Invite) as a QR code for a printed
// sheet: 4 pixels per module, with the standard quiet zone.
func ExamplePNG() {
	b, err := qrcode.PNG("https://anpi.example.jp/r/q0Jk9PAe1Cc1yZ0aWJ2s3yqmQ0aX0nq5HqD2WmNbG8o", &qrcode.Options{Scale: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Bounds().Dx(), "x", img.Bounds().Dy())
	// Output: 180 x 180
}
