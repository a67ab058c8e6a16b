package crash

import (
	"strings"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/channel/email"
	"github.com/anpikit/anpi/store/storetest"
)

// verifyStore opens the store after run ended (killed, or the final run)
// and checks it: the survey is absent, or its recipients are the first
// users in ID order (the Service writes a fan-out in chunks, in that
// order, each whole or not at all) — all of them after the final run —
// each with one first delivery and no delivery for anyone else (SMS only
// as the fallback of a bounced email),
// every acknowledged answer is stored, no answer is stored that was not
// given, and the tally equals a recount. After a kill it records the
// deliveries the killed child held: those may have been sent twice. It
// reports whether the survey exists.
func (e *engine) verifyStore(run int, killed bool) bool {
	t := e.t
	t.Helper()
	ctx := t.Context()
	st, err := openStore(ctx, e.path)
	require.NoError(t, err, "run %d: reopen the store", run)
	defer st.Close()

	svs, err := st.ListSurveys(ctx, nil)
	require.NoError(t, err)
	require.LessOrEqual(t, len(svs), 1, "run %d: the document started more than one survey", run)
	if len(svs) == 0 {
		require.Zero(t, e.asked, "run %d: the survey of acknowledged recipients is gone", run)
		for u := range e.lg.users {
			e.lg.check(t, u, nil)
		}
		return false
	}
	sv := svs[0]
	if e.survey != "" {
		require.Equal(t, e.survey, sv.ID)
	}
	require.Equal(t, anpi.Open, sv.Status)
	rs, err := st.Recipients(ctx, sv.ID)
	require.NoError(t, err)
	if !killed {
		require.Len(t, rs, users, "run %d: the survey is not whole", run)
	} else if len(rs) < users {
		e.partial++
	}
	asked := make(map[anpi.UserID]bool, len(rs))
	for _, r := range rs {
		asked[r.UserID] = true
	}
	for i := range len(rs) {
		require.True(t, asked[userID(i)], "run %d: %d recipients, but not the first %d users in ID order: %s is missing", run, len(rs), len(rs), userID(i))
	}

	ds, err := st.Deliveries(ctx, sv.ID)
	require.NoError(t, err)
	first := map[anpi.UserID]*anpi.Delivery{}
	fallback := map[anpi.UserID]*anpi.Delivery{}
	for _, d := range ds {
		i, ok := userIndex(d.UserID)
		require.True(t, ok, "delivery %s to %s", d.ID, d.UserID)
		require.True(t, asked[d.UserID], "run %d: delivery %s to %s, who is not a recipient", run, d.ID, d.UserID)
		require.Equal(t, 0, d.Round, "delivery %s", d.ID)
		switch d.Channel {
		case anpi.EmailChannel:
			require.Nil(t, first[d.UserID], "run %d: %s has two email deliveries", run, d.UserID)
			first[d.UserID] = d
		case anpi.SMSChannel:
			require.True(t, bounces(i), "run %d: SMS delivery %s to %s, whose email works (%s)", run, d.ID, d.UserID, d.LastError)
			require.Nil(t, fallback[d.UserID], "run %d: %s has two SMS deliveries", run, d.UserID)
			fallback[d.UserID] = d
		default:
			require.Failf(t, "delivery on an unexpected channel", "run %d: %s on %s", run, d.ID, d.Channel)
		}
		if d.State == anpi.Sending {
			require.True(t, strings.HasPrefix(d.LeaseOwner, "crash-run-"), "delivery %s held by %q", d.ID, d.LeaseOwner)
			if killed && d.LeaseOwner == owner(run) {
				e.inflight[d.ID]++
			}
		}
	}
	require.Len(t, first, len(rs), "run %d: the survey's deliveries are not whole", run)
	for u, d := range fallback {
		require.Equal(t, anpi.FailedPermanent, first[u].State, "run %d: SMS delivery %s while the email is %s", run, d.ID, first[u].State)
	}

	for u, a := range e.lg.users {
		r, err := st.GetResponse(ctx, sv.ID, u)
		if anpi.Code(err) == anpi.NotFound {
			r, err = nil, nil
		}
		require.NoError(t, err)
		if a.acked != "" {
			require.NotNil(t, r, "run %d: acknowledged answer of %s (%s) lost", run, u, a.acked)
		}
		e.lg.check(t, u, r)
	}
	resps, err := st.Responses(ctx, sv.ID)
	require.NoError(t, err)
	for _, r := range resps {
		require.NotNil(t, e.lg.users[r.UserID], "run %d: answer of %s stored, but never given", run, r.UserID)
	}
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error { return storetest.VerifyTally(ctx, tx, sv.ID) }), "run %d", run)
	tally, err := st.Tally(ctx, sv.ID)
	require.NoError(t, err)
	require.Equal(t, len(rs), tally.Targets)
	require.Equal(t, len(resps), tally.Answered)
	return true
}

// verifyFinal checks, once the last child sent everything, that every
// delivery is final as its recipient's address says, and that the fakes
// received exactly one message per recipient on his channel, except for
// deliveries in flight at a kill, whose duplicates it counts.
func (e *engine) verifyFinal() {
	t := e.t
	t.Helper()
	ctx := t.Context()
	st, err := openStore(ctx, e.path)
	require.NoError(t, err)
	defer st.Close()
	ds, err := st.Deliveries(ctx, e.survey)
	require.NoError(t, err)
	byUser := map[anpi.UserID]map[anpi.Channel]*anpi.Delivery{}
	for _, d := range ds {
		e.maxAttempts = max(e.maxAttempts, d.Attempts)
		if byUser[d.UserID] == nil {
			byUser[d.UserID] = map[anpi.Channel]*anpi.Delivery{}
		}
		byUser[d.UserID][d.Channel] = d
	}

	// What the fakes received, per recipient.
	mails := map[int][]int{} // user → indexes into msgs
	msgs := e.mail.Messages()
	require.Len(t, msgs, e.mail.Count())
	for k, m := range msgs {
		require.NoError(t, m.DecodeErr, "mail %d", k)
		require.Len(t, m.To, 1, "mail %d", k)
		i, ok := userIndex(anpi.UserID(strings.TrimSuffix(m.To[0], "@corp.example")))
		require.True(t, ok && m.To[0] == workEmail(i), "mail to %s", m.To[0])
		require.Regexp(t, tokenRE, m.Text, "mail to %s has no answer link", m.To[0])
		mails[i] = append(mails[i], k)
	}
	texts := map[int][]string{} // user → SMS provider IDs
	reqs := e.tw.Requests()
	for _, r := range reqs {
		require.Equal(t, "sms", r.Kind)
		require.Equal(t, smsFrom, r.From)
		i, ok := phoneIndex(r.To)
		require.True(t, ok, "SMS to %s", r.To)
		require.Regexp(t, tokenRE, r.Body, "SMS to %s has no answer link", r.To)
		texts[i] = append(texts[i], r.SID)
	}

	dup := func(d *anpi.Delivery, n int) {
		if n > 1 {
			require.LessOrEqual(t, n-1, e.inflight[d.ID], "%s: %d messages on %s, but the delivery was in flight at %d kills", d.UserID, n, d.Channel, e.inflight[d.ID])
			e.dups += n - 1
		}
	}
	for i := range users {
		u := userID(i)
		em := byUser[u][anpi.EmailChannel]
		require.NotNil(t, em, "%s has no email delivery", u)
		if bounces(i) {
			require.Equal(t, anpi.FailedPermanent, em.State, "%s: the bounced email", u)
			require.Empty(t, mails[i], "%s: the fake accepted mail to a bouncing address", u)
			s := byUser[u][anpi.SMSChannel]
			require.NotNil(t, s, "%s: no SMS after the bounce", u)
			require.Equal(t, anpi.Sent, s.State, "%s: SMS %s (%s)", u, s.State, s.LastError)
			require.NotEmpty(t, texts[i], "%s unreached: no SMS received", u)
			require.Contains(t, texts[i], s.ProviderID, "%s: the recorded SMS is not one the fake took", u)
			dup(s, len(texts[i]))
			e.sms += len(texts[i])
			continue
		}
		require.Equal(t, anpi.Sent, em.State, "%s: email %s (%s)", u, em.State, em.LastError)
		require.Nil(t, byUser[u][anpi.SMSChannel], "%s: SMS although the email went", u)
		require.Empty(t, texts[i], "%s: SMS received although the email went", u)
		require.NotEmpty(t, mails[i], "%s unreached: no mail received", u)
		for _, k := range mails[i] {
			m := msgs[k]
			require.Equal(t, em.IdempotencyKey(), m.Header.Get(email.IdempotencyHeader), "%s: idempotency key", u)
			require.Equal(t, "<"+em.ProviderID+">", m.Header.Get("Message-ID"), "%s: a retry must repeat the Message-ID", u)
		}
		dup(em, len(mails[i]))
		e.emails += len(mails[i])
	}
	require.Equal(t, len(msgs), e.emails, "mail to nobody expected")
	require.Equal(t, len(reqs), e.sms, "SMS to nobody expected")
}
