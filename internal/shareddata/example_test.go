package shareddata_test

import (
	"fmt"

	"github.com/anpikit/anpi/internal/shareddata"
)

// Find reports where ../shared/jma-samples is, if it is there at all; tests
// use Dir or Samples, which skip with a message when it is not. (No Output:
// the answer depends on the machine.)
func ExampleFind() {
	if dir, ok := shareddata.Find("jma-samples"); ok {
		fmt.Println("JMA samples in", dir)
	} else {
		fmt.Println("no JMA samples: set ANPI_SHARED_DIR")
	}
}
