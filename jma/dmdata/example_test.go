package dmdata_test

import (
	"fmt"

	"github.com/anpikit/anpi/jma/dmdata"
)

func ExampleNew() {
	// A Source needs an API key; drills (訓練/試験) are requested only with IncludeTest.
	_, err := dmdata.New(&dmdata.Options{})
	fmt.Println(err)
	src, err := dmdata.New(&dmdata.Options{APIKey: "your-key", Classifications: []string{"telegram.earthquake", "eew.warning"}})
	fmt.Println(src != nil, err)
	// Output:
	// dmdata: options: an API key is required
	// true <nil>
}
