package anpi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/qrcode"
	"github.com/anpikit/anpi/channel/line"
	fakeline "github.com/anpikit/anpi/internal/fake/line"
)

// inviteTokenOf returns the token of a registration link.
func inviteTokenOf(t testing.TB, link string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(link, baseURL+anpi.InvitationPath)
	require.True(t, ok, "registration link %q", link)
	return tok
}

// invite grants admin company-wide system administration and invites user.
func (e *env) invite(user anpi.UserID) string {
	e.t.Helper()
	require.NoError(e.t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.SystemAdmin}))
	inv, err := e.svc.Invite(e.ctx, "admin", user)
	require.NoError(e.t, err)
	return inviteTokenOf(e.t, inv.URL)
}

func TestInvite(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.SystemAdmin}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.SystemAdmin, Department: "kanazawa"}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "kaga", Role: anpi.CrisisManager}))

	// Who may invite: system administrators over the user.
	_, err := e.svc.Invite(e.ctx, "kaga", "nobody")
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "a crisis manager manages no users")
	_, err = e.svc.Invite(e.ctx, "noto", "admin")
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "admin is outside 金沢支店")
	_, err = e.svc.Invite(e.ctx, "admin", "ghost")
	require.Equal(t, anpi.NotFound, anpi.Code(err))

	inv, err := e.svc.Invite(e.ctx, "noto", "nobody")
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("nobody"), inv.UserID)
	require.Equal(t, t0.Add(anpi.DefaultInvitationTTL), inv.ExpiresAt)
	tok := inviteTokenOf(t, inv.URL)
	require.Len(t, tok, 43, "256 random bits")
	h, err := anpi.HashAnswerToken(tok)
	require.NoError(t, err)
	stored, err := e.st.AnswerToken(e.ctx, h)
	require.NoError(t, err, "the store has the hash")
	require.Equal(t, anpi.UserID("nobody"), stored.UserID)
	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: "nobody"})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, "user.invite", audit[0].Action)
	require.Equal(t, anpi.UserID("noto"), audit[0].Actor)

	// The link identifies the user for the self-service page.
	who, err := e.svc.RedeemInvitation(e.ctx, tok)
	require.NoError(t, err)
	require.Equal(t, "nobody san", who.User.Name)
	require.Empty(t, who.Contacts)
	require.Equal(t, inv.ExpiresAt, who.ExpiresAt)

	// A new invitation replaces the old link.
	inv2, err := e.svc.Invite(e.ctx, "admin", "nobody")
	require.NoError(t, err)
	_, err = e.svc.RedeemInvitation(e.ctx, tok)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	tok2 := inviteTokenOf(t, inv2.URL)
	_, err = e.svc.RedeemInvitation(e.ctx, tok2)
	require.NoError(t, err)

	// It is no answer link nor confirmation link, and answer links are no
	// invitations.
	_, err = e.svc.AnswerByToken(e.ctx, tok2, []anpi.Answer{{QuestionID: anpi.ContactCheckQuestion, Choices: []string{anpi.ContactCheckReceived}}}, anpi.ViaWeb)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	_, err = e.svc.ConfirmContact(e.ctx, tok2)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	e.startCheck()
	checkTok := e.checkLink(e.contactChecks()[0].ID, "noto/fcm")
	_, err = e.svc.RedeemInvitation(e.ctx, checkTok)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	_, err = e.svc.RegisterContact(e.ctx, checkTok, &anpi.Contact{Kind: anpi.EmailContact, Address: "x@example.jp"})
	require.Equal(t, anpi.NotFound, anpi.Code(err))

	// It expires.
	e.clock.Advance(anpi.DefaultInvitationTTL)
	_, err = e.svc.RedeemInvitation(e.ctx, tok2)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	require.Equal(t, "anpi: answer link is unknown or no longer valid", err.Error())

	// A deleted user's link does not work either.
	tok3 := e.invite("toyama")
	require.NoError(t, e.st.DeleteUser(e.ctx, "toyama"))
	_, err = e.svc.RedeemInvitation(e.ctx, tok3)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
}

func TestInvitationQR(t *testing.T) {
	e := newEnv(t)
	tok := e.invite("nobody")
	b, err := qrcode.PNG(baseURL+anpi.InvitationPath+tok, nil)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	sym, err := qrcode.Encode(baseURL+anpi.InvitationPath+tok, qrcode.Medium)
	require.NoError(t, err)
	require.Equal(t, (sym.Size()+2*qrcode.DefaultBorder)*qrcode.DefaultScale, img.Bounds().Dx())
}

func TestRegisterContact(t *testing.T) {
	e := newEnv(t)
	tok := e.invite("nobody")
	e.clock.Advance(time.Minute)
	now := e.clock.Now()

	c, err := e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.EmailContact, Address: "nobody@home.example", Label: "自宅"})
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("nobody"), c.UserID)
	require.Equal(t, anpi.PrivateScope, c.Scope)
	require.True(t, strings.HasPrefix(string(c.ID), "ct-"))
	require.Equal(t, now, c.CreatedAt)
	require.Equal(t, anpi.ContactCheck{}, c.Check, "unverified until a contact check")
	stored := e.contact(c.ID)
	require.Equal(t, "nobody@home.example", stored.Address)

	// The page shows what is registered, never where (the link may be in
	// an administrator's hands).
	who, err := e.svc.RedeemInvitation(e.ctx, tok)
	require.NoError(t, err)
	require.Len(t, who.Contacts, 1)
	require.Equal(t, anpi.EmailContact, who.Contacts[0].Kind)
	b, err := json.Marshal(who)
	require.NoError(t, err)
	require.NotContains(t, string(b), "nobody@home.example")
	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(c.ID)})
	require.NoError(t, err)
	require.Len(t, audit, 2)
	require.Equal(t, "contact.register", audit[0].Action)
	require.Equal(t, "contact.verify", audit[1].Action, "a confirmation link is queued at once")
	for _, a := range audit {
		require.Equal(t, anpi.UserID("nobody"), a.Actor)
		require.NotContains(t, a.Detail, "nobody@home.example")
	}

	// A family member's phone, the app.
	_, err = e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.PhoneContact, Scope: anpi.FamilyScope, Address: "+819055556666", Label: "妻"})
	require.NoError(t, err)
	app, err := e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.FCMContact, Address: "fcm-token-nobody"})
	require.NoError(t, err)

	// Replacing his own contact: the same address keeps its check state,
	// a new one starts unverified.
	require.NoError(t, e.st.RecordContactCheck(e.ctx, app.ID, anpi.ContactCheck{Verified: true, VerifiedAt: now}))
	again, err := e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{ID: app.ID, Kind: anpi.FCMContact, Address: "fcm-token-nobody", Label: "Pixel"})
	require.NoError(t, err)
	require.True(t, again.Check.Verified)
	require.Equal(t, app.CreatedAt, again.CreatedAt)
	again, err = e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{ID: app.ID, Kind: anpi.FCMContact, Address: "fcm-token-new-phone"})
	require.NoError(t, err)
	require.False(t, again.Check.Verified)

	for name, tc := range map[string]struct {
		c    *anpi.Contact
		code anpi.ErrorCode
	}{
		"nil":                  {nil, anpi.InvalidArgument},
		"bad address":          {&anpi.Contact{Kind: anpi.EmailContact, Address: "not an address"}, anpi.InvalidArgument},
		"unknown kind":         {&anpi.Contact{Kind: "fax", Address: "0312345678"}, anpi.InvalidArgument},
		"the work email":       {&anpi.Contact{Kind: anpi.EmailContact, Scope: anpi.WorkScope, Address: "n@corp.example"}, anpi.InvalidArgument},
		"LINE by hand":         {&anpi.Contact{Kind: anpi.LINEContact, Address: "U0123456789abcdef0123456789abcdee"}, anpi.InvalidArgument},
		"someone else's":       {&anpi.Contact{UserID: "noto", Kind: anpi.EmailContact, Address: "x@home.example"}, anpi.InvalidArgument},
		"someone else's id":    {&anpi.Contact{ID: "c-noto-fcm", Kind: anpi.FCMContact, Address: "fcm-x"}, anpi.NotFound},
		"an unknown id":        {&anpi.Contact{ID: "c-none", Kind: anpi.FCMContact, Address: "fcm-x"}, anpi.NotFound},
		"an address he has":    {&anpi.Contact{Kind: anpi.EmailContact, Address: "nobody@home.example"}, anpi.AlreadyExists},
		"a second app (limit)": {&anpi.Contact{Kind: anpi.FCMContact, Address: "fcm-token-second"}, anpi.FailedPrecondition},
	} {
		_, err := e.svc.RegisterContact(e.ctx, tok, tc.c)
		require.Equal(t, tc.code, anpi.Code(err), "%s: %v", name, err)
	}
	for i := 2; i <= anpi.MaxPrivateEmails; i++ {
		_, err := e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.EmailContact, Address: fmt.Sprintf("n%d@home.example", i)})
		require.NoError(t, err)
	}
	_, err = e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.EmailContact, Address: "one-too-many@home.example"})
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
	cs, err := e.st.Contacts(e.ctx, "nobody")
	require.NoError(t, err)
	require.Len(t, cs, 5, "3 emails, the app and the family phone: refused contacts changed nothing")

	// The registered contacts are checked by the next contact check.
	sv := e.startCheck().Survey
	ds, err := e.st.Deliveries(e.ctx, sv.ID)
	require.NoError(t, err)
	n := 0
	for _, d := range ds {
		if d.UserID == "nobody" {
			n++
			require.NotEqual(t, anpi.SkippedNoContact, d.State)
		}
	}
	require.Equal(t, 4, n, "3 private emails and the app; not the family phone")
}

func TestRegisterOwnContact(t *testing.T) {
	e := newEnv(t)
	c, err := e.svc.RegisterOwnContact(e.ctx, "nobody", &anpi.Contact{Kind: anpi.PhoneContact, Address: "+819077778888"})
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("nobody"), c.UserID)
	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(c.ID)})
	require.NoError(t, err)
	require.Equal(t, "private phone contact, via self-service", audit[0].Detail)

	_, err = e.svc.RegisterOwnContact(e.ctx, "nobody", &anpi.Contact{UserID: "noto", Kind: anpi.EmailContact, Address: "x@home.example"})
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "only his own")
	_, err = e.svc.RegisterOwnContact(e.ctx, "leave", &anpi.Contact{Kind: anpi.EmailContact, Address: "x@home.example"})
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "suspended")
	_, err = e.svc.RegisterOwnContact(e.ctx, "ghost", &anpi.Contact{Kind: anpi.EmailContact, Address: "x@home.example"})
	require.Equal(t, anpi.NotFound, anpi.Code(err))
}

// linkEvents is what a server's LINE webhook does on Linked: register the
// contact through the Service.
type linkEvents struct {
	line.NopEvents
	svc *anpi.Service
}

func (l linkEvents) Linked(ctx context.Context, userID, lineUserID string) error {
	_, err := l.svc.LinkLINE(ctx, anpi.UserID(userID), lineUserID)
	return err
}

// accountLinkEvent is LINE's webhook body for a finished account link.
func accountLinkEvent(id, lineUserID, nonce string) []byte {
	b, _ := json.Marshal(map[string]any{"destination": "Uxxx", "events": []any{map[string]any{
		"type": "accountLink", "webhookEventId": id, "replyToken": "rt-" + id, "mode": "active", "timestamp": 1,
		"source": map[string]string{"type": "user", "userId": lineUserID},
		"link":   map[string]string{"result": "ok", "nonce": nonce},
	}}})
	return b
}

// TestLinkLINE links a LINE account end to end: the LINE fake issues the
// link token, a Linker with the Service's NonceStore begins, the webhook
// takes LINE's accountLink event (signed as LINE signs it) and the Service
// registers the contact; a safety check then reaches the user on LINE
// through the real adapter.
func TestLinkLINE(t *testing.T) {
	e := newEnv(t)
	const secret, lineUser = "channel-secret", "U00112233445566778899aabbccddeeff"
	fake := fakeline.Start(&fakeline.Options{ChannelToken: "token", Now: e.clock.Now})
	t.Cleanup(fake.Close)
	sender, err := line.New(line.Config{ChannelAccessToken: "token", Endpoint: fake.URL(), HTTPClient: fake.Client(), Now: e.clock.Now})
	require.NoError(t, err)
	nonces := e.svc.LINENonces()
	linker, err := line.NewLinker(nonces, &line.LinkerOptions{Now: e.clock.Now})
	require.NoError(t, err)
	hook, err := line.NewWebhook(line.WebhookConfig{ChannelSecret: secret, Events: linkEvents{svc: e.svc}, Nonces: nonces})
	require.NoError(t, err)
	post := func(body []byte) int {
		req := httptest.NewRequest(http.MethodPost, "/line/webhook", bytes.NewReader(body))
		req.Header.Set("X-Line-Signature", fakeline.Signature(secret, body))
		rec := httptest.NewRecorder()
		hook.ServeHTTP(rec, req)
		return rec.Code
	}
	begin := func(user string) string { // steps 1 and 2: link token, login, Begin
		linkToken, err := sender.IssueLinkToken(e.ctx, lineUser)
		require.NoError(t, err)
		got, ok := fake.LinkTokenUser(linkToken)
		require.True(t, ok)
		require.Equal(t, lineUser, got)
		dialog, err := linker.Begin(e.ctx, user, linkToken)
		require.NoError(t, err)
		u, err := url.Parse(dialog)
		require.NoError(t, err)
		require.Equal(t, linkToken, u.Query().Get("linkToken"))
		return u.Query().Get("nonce")
	}

	// A nonce that expired (LINE's dialog took too long) links nothing.
	stale := begin("nobody")
	e.clock.Advance(11 * time.Minute)
	require.Equal(t, http.StatusOK, post(accountLinkEvent("e0", lineUser, stale)))
	cs, err := e.st.Contacts(e.ctx, "nobody")
	require.NoError(t, err)
	require.Empty(t, cs)

	// Step 3: LINE posts the event; the contact is registered, verified.
	nonce := begin("nobody")
	require.Equal(t, http.StatusOK, post(accountLinkEvent("e1", lineUser, nonce)))
	cs, err = e.st.Contacts(e.ctx, "nobody")
	require.NoError(t, err)
	require.Len(t, cs, 1)
	c := cs[0]
	require.Equal(t, anpi.LINEContact, c.Kind)
	require.Equal(t, anpi.PrivateScope, c.Scope)
	require.Equal(t, lineUser, c.Address)
	require.Equal(t, anpi.ContactCheck{Verified: true, VerifiedAt: e.clock.Now(), LastChecked: e.clock.Now()}, c.Check)
	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(c.ID)})
	require.NoError(t, err)
	require.Equal(t, "contact.link_line", audit[0].Action)
	require.NotContains(t, audit[0].Detail, lineUser)

	// LINE redelivers the event: the nonce is spent, nothing changes.
	require.Equal(t, http.StatusOK, post(accountLinkEvent("e1", lineUser, nonce)))
	cs, err = e.st.Contacts(e.ctx, "nobody")
	require.NoError(t, err)
	require.Len(t, cs, 1)

	// A safety check reaches him on LINE, through the adapter and the fake.
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.CrisisManager}))
	st, err := e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "安否確認", Targeting: anpi.Targeting{Users: []anpi.UserID{"nobody"}}})
	require.NoError(t, err)
	require.Equal(t, 1, st.Queued)
	d := e.deliveries(st.Survey.ID)["nobody/line"]
	require.NotNil(t, d)
	m, cid, err := e.svc.Render(e.ctx, d)
	require.NoError(t, err)
	require.Equal(t, c.ID, cid)
	_, err = sender.Send(e.ctx, m)
	require.NoError(t, err)
	msgs := fake.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, lineUser, msgs[0].To)
	require.Contains(t, msgs[0].Texts[0], "安否確認")

	// Linking another LINE account replaces the address: a user has one.
	const other = "Uffeeddccbbaa99887766554433221100"
	_, err = e.svc.LinkLINE(e.ctx, "nobody", other)
	require.NoError(t, err)
	cs, err = e.st.Contacts(e.ctx, "nobody")
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Equal(t, other, cs[0].Address)
	require.Equal(t, c.ID, cs[0].ID)

	_, err = e.svc.LinkLINE(e.ctx, "nobody", "not-a-line-id")
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	_, err = e.svc.LinkLINE(e.ctx, "ghost", lineUser)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
}

func TestLINENonces(t *testing.T) {
	e := newEnv(t)
	n := e.svc.LINENonces()
	exp := e.clock.Now().Add(10 * time.Minute)
	require.NoError(t, n.Put(e.ctx, "nonce-1", "noto", exp))
	require.Equal(t, anpi.NotFound, anpi.Code(n.Put(e.ctx, "nonce-2", "ghost", exp)))
	require.Equal(t, anpi.InvalidArgument, anpi.Code(n.Put(e.ctx, "", "noto", exp)))
	require.Equal(t, anpi.AlreadyExists, anpi.Code(n.Put(e.ctx, "nonce-1", "noto", exp)), "a nonce is stored once")

	// Good once, also when many take it at the same time.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	var errs []error
	for range 8 {
		wg.Go(func() {
			user, ok, err := n.Take(e.ctx, "nonce-1")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				won = append(won, user)
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Equal(t, []string{"noto"}, won)

	// Unknown, expired; another replica (Service) on the same store sees
	// the nonces.
	_, ok, err := n.Take(e.ctx, "never-put")
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, n.Put(e.ctx, "nonce-3", "kaga", exp))
	replica := e.newService(nil).LINENonces()
	e.clock.Advance(10 * time.Minute)
	_, ok, err = replica.Take(e.ctx, "nonce-3")
	require.NoError(t, err)
	require.False(t, ok, "expired")
	require.NoError(t, n.Put(e.ctx, "nonce-4", "kaga", e.clock.Now().Add(time.Minute)))
	user, ok, err := replica.Take(e.ctx, "nonce-4")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "kaga", user)

	// A nonce is no answer link: its hash is apart.
	_, err = e.svc.AnswerByToken(e.ctx, "nonce-4", safe(), anpi.ViaWeb)
	require.Equal(t, anpi.NotFound, anpi.Code(err))

	// It satisfies the adapter's interface.
	var _ line.NonceStore = n
}

// TestInvitationTokenIsNoAnswerLink: an invitation link's token opens no
// answer page and records no answer, nor confirms a contact: the same
// NotFound as an unknown token.
func TestInvitationTokenIsNoAnswerLink(t *testing.T) {
	e := newEnv(t)
	tok := e.invite("noto")
	_, err := e.svc.LookupToken(e.ctx, tok)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	_, err = e.svc.AnswerByToken(e.ctx, tok, []anpi.Answer{{QuestionID: anpi.ContactCheckQuestion, Choices: []string{anpi.ContactCheckReceived}}}, anpi.ViaWeb)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	_, err = e.svc.ConfirmContact(e.ctx, tok)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	_, err = e.svc.RedeemInvitation(e.ctx, tok)
	require.NoError(t, err, "the link still works where it belongs")
}
