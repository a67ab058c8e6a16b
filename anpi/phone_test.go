package anpi_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

func TestAnswerByPhoneRefusesBadInput(t *testing.T) {
	svc, err := anpi.New(memstore.New(nil), nil)
	require.NoError(t, err)
	ctx := t.Context()
	for name, err := range map[string]error{
		"no number": func() error { _, err := svc.AnswerBySMS(ctx, " ", "safe"); return err }(),
		"no choice": func() error { _, err := svc.AnswerBySMS(ctx, "+819011110001", ""); return err }(),
		"no call":   func() error { _, err := svc.AnswerByCall(ctx, "", "safe"); return err }(),
	} {
		require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "%s: %v", name, err)
	}
	_, err = svc.AnswerBySMS(ctx, "+819011110001", "safe")
	require.Equal(t, anpi.NotFound, anpi.Code(err), "no open survey reached the number: %v", err)
	_, err = svc.AnswerByCall(ctx, "CA0001", "safe")
	require.Equal(t, anpi.NotFound, anpi.Code(err), "%v", err)
}
