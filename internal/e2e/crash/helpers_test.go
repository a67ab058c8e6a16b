package crash

import (
	"context"
	"fmt"
	"hash/fnv"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/sqlite"
)

// The directory and the system under test.
const (
	// phoneEvery: users whose index is a multiple of it registered a phone.
	phoneEvery = 10
	// bounceEvery: the work email of users whose index is a multiple of
	// it bounces at the fake SMTP server (550 5.1.1); they are reached by
	// SMS instead. A multiple of phoneEvery, so all of them have a phone.
	bounceEvery = 20

	baseURL  = "https://a.example" // short: SMS carry the link too
	mailFrom = "安否確認 <anpi@corp.example>"
	smsFrom  = "+815012345678"
	// Twilio credentials the fake accepts.
	accountSID = "ACcrash0000000000000000000000000"
	authToken  = "crashsecret0123456789"

	ruleID   = "quake-5lower"
	ruleSpec = `{"id":"quake-5lower","name":"震度5弱以上","kind":"earthquake","earthquake":{"threshold":"5-"}}`
	// document is the report every child feeds: the 震度速報 of event A
	// (6+ in 石川県能登 390, 5+ in 石川県加賀 391, 5- in 新潟県上越 370),
	// package jma's own fixture.
	document = "../../../jma/testdata/vxse51_event_a_1.xml"
)

// regions are the areas of the document, one per user in turn.
var regions = []string{"quake:390", "quake:391", "quake:370"}

func userID(i int) anpi.UserID  { return anpi.UserID(fmt.Sprintf("u%05d", i)) }
func workEmail(i int) string    { return fmt.Sprintf("u%05d@corp.example", i) }
func phone(i int) string        { return fmt.Sprintf("+8190%08d", i) }
func hasPhone(i int) bool       { return i%phoneEvery == 0 }
func bounces(i int) bool        { return i%bounceEvery == 0 }
func answersByLink(i int) bool  { return i%20 == 0 || i%20 == 5 } // half of them by SMS link
func answersAsAdmin(i int) bool { return i%20 == 7 }

// channelOf is the channel user i is reached on in the end.
func channelOf(i int) anpi.Channel {
	if bounces(i) {
		return anpi.SMSChannel
	}
	return anpi.EmailChannel
}

// userIndex parses "u01234".
func userIndex(id anpi.UserID) (int, bool) {
	var i int
	if _, err := fmt.Sscanf(string(id), "u%05d", &i); err != nil || i < 0 || i >= users || userID(i) != id {
		return 0, false
	}
	return i, true
}

// choices are the answers to 本人 the children pick from.
var choices = []string{"safe", "minor", "serious"}

// tokenRE finds the answer token in a link of the messages.
var tokenRE = regexp.MustCompile(`/a/([A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{22})`)

// owner is the lease owner of the dispatcher of run n.
func owner(run int) string { return fmt.Sprintf("crash-run-%d", run) }

// shard spreads users over n answer workers, the same user always to the
// same worker, so that one user's answers are given in order.
func shard(u anpi.UserID, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(u))
	return int(h.Sum32() % uint32(n))
}

// openStore opens the store file as the children do.
func openStore(ctx context.Context, path string) (*sqlite.Store, error) {
	return sqlite.Open(ctx, path, &sqlite.Options{AllowPlaintextContacts: true})
}

// seedDirectory writes the directory and the rule in one transaction.
func seedDirectory(t *testing.T, path string) {
	t.Helper()
	ctx := t.Context()
	st, err := openStore(ctx, path)
	require.NoError(t, err)
	defer st.Close()
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		for i := range users {
			r, err := anpi.ParseRegion(regions[i%len(regions)])
			if err != nil {
				return err
			}
			loc := anpi.Japanese
			if i%7 == 3 {
				loc = anpi.English
			}
			u := &anpi.User{ID: userID(i), EmployeeCode: fmt.Sprintf("E%05d", i), Name: fmt.Sprintf("社員 %05d", i),
				WorkEmail: workEmail(i), Regions: []anpi.Region{r}, Status: anpi.Active, Locale: loc}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			if hasPhone(i) {
				if err := tx.PutContact(ctx, &anpi.Contact{ID: anpi.ContactID(fmt.Sprintf("c-%05d-phone", i)), UserID: u.ID,
					Kind: anpi.PhoneContact, Scope: anpi.PrivateScope, Address: phone(i), Check: anpi.ContactCheck{Verified: true}}); err != nil {
					return err
				}
			}
		}
		return tx.PutRule(ctx, &anpi.RuleRecord{ID: ruleID, Name: "震度5弱以上", Enabled: true, Spec: []byte(ruleSpec)})
	})
	require.NoError(t, err)
}
