// Package qrcode renders a link as a QR code PNG, for the printed sheets that
// carry a user's registration link (anpi.Service.Invite) to people who read
// it with a phone camera.
//
// The QR encoding is github.com/piglig/go-qr (a port of Nayuki's reference
// generator, no dependencies); this package draws the modules itself into a
// two-colour paletted image, so the PNG is small (one bit per pixel) and its
// size is exact: (modules + 2×Border) × Scale pixels square, where modules
// is 17 + 4×version of the symbol the text needs.
package qrcode
