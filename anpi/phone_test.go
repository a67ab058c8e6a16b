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

// TestAnswerByLINE: an answer button pressed in LINE answers for the
// recipient whose LINE message reached that LINE user, in the survey the
// message named (or the most recent open survey that reached him); a LINE
// user the survey did not reach, or who was only a recipient on another
// channel, records nothing.
func TestAnswerByLINE(t *testing.T) {
	e := newEnv(t, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey
	ds := e.deliveries(sv)
	const joetsuLINE = "U0123456789abcdef0123456789abcdef"
	_, err := e.svc.AnswerByLINE(e.ctx, sv, joetsuLINE, "safe")
	require.Equal(t, anpi.NotFound, anpi.Code(err), "not sent yet: %v", err)

	e.send(ds["joetsu/line"])
	r, err := e.svc.AnswerByLINE(e.ctx, sv, joetsuLINE, "safe")
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("joetsu"), r.UserID)
	require.Equal(t, anpi.ViaLINE, r.Channel)
	r, err = e.svc.AnswerByLINE(e.ctx, "", joetsuLINE, "minor")
	require.NoError(t, err, "the most recent open survey that reached him")
	require.True(t, r.Chose(anpi.QuestionSelf, "minor"))

	for name, c := range map[string]struct {
		survey anpi.SurveyID
		line   string
		choice string
		code   anpi.ErrorCode
	}{
		"unknown LINE user":  {sv, "U99999999999999999999999999999999", "safe", anpi.NotFound},
		"unknown survey":     {"nope", joetsuLINE, "safe", anpi.NotFound},
		"no LINE user":       {sv, "", "safe", anpi.InvalidArgument},
		"no answer":          {sv, joetsuLINE, "", anpi.InvalidArgument},
		"not a choice":       {sv, joetsuLINE, "fine", anpi.InvalidArgument},
		"no survey, unknown": {"", "U99999999999999999999999999999999", "safe", anpi.NotFound},
	} {
		_, err := e.svc.AnswerByLINE(e.ctx, c.survey, c.line, c.choice)
		require.Equal(t, c.code, anpi.Code(err), "%s: %v", name, err)
		require.NotContains(t, err.Error(), joetsuLINE, "%s: a LINE user ID is a private address", name)
	}
}
