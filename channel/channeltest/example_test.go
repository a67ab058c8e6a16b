package channeltest_test

import (
	"fmt"

	"github.com/anpikit/anpi/channel/channeltest"
)

// A harness declares which faults its fake can produce; the suite expects
// the matching code for each.
func ExampleFault_Code() {
	for _, f := range []channeltest.Fault{channeltest.InvalidAddress, channeltest.Unregistered,
		channeltest.RateLimited, channeltest.Temporary, channeltest.Misconfigured, channeltest.Hang} {
		fmt.Println(f, "->", f.Code())
	}
	// Output:
	// InvalidAddress -> Permanent
	// Unregistered -> Unregistered
	// RateLimited -> RateLimited
	// Temporary -> Temporary
	// Misconfigured -> Misconfigured
	// Hang -> Temporary
}
