package postgres

import (
	"testing"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	testURL(t)
	storetest.Run(t, func(t *testing.T) anpi.Store { return openTest(t, nil) })
}
