package csvcell_test

import (
	"fmt"

	"github.com/anpikit/anpi/internal/csvcell"
)

// A cell a spreadsheet could run as a formula is written with a leading
// quote, and read back without it.
func Example() {
	cell := csvcell.Escape("=HYPERLINK(\"http://evil.example\")")
	fmt.Println(cell)
	fmt.Println(csvcell.Unescape(cell))
	fmt.Println(csvcell.Escape("営業部"))
	// Output:
	// '=HYPERLINK("http://evil.example")
	// =HYPERLINK("http://evil.example")
	// 営業部
}
