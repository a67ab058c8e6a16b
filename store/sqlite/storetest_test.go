package sqlite

import (
	"testing"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) anpi.Store { return openTest(t, nil) })
}
