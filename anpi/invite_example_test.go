package anpi_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/qrcode"
	"github.com/anpikit/anpi/store/memstore"
)

// Onboarding: a system administrator invites a user and prints the link as
// a QR code; the user registers his private email on the self-service page
// behind it, then links his LINE account (the LINE webhook calls
// LINENonces and LinkLINE; see package channel/line).
func ExampleService_Invite() {
	ctx := context.Background()
	now := time.Date(2030, 4, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memstore.New(&memstore.Options{Now: clock})
	defer st.Close()
	for _, u := range []*anpi.User{
		{ID: "admin", EmployeeCode: "E0", Name: "総務 担当", Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "yamada", EmployeeCode: "E1", Name: "山田 太郎", Status: anpi.Active, Locale: anpi.Japanese},
	} {
		if err := st.CreateUser(ctx, u); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := st.GrantRole(ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.SystemAdmin}); err != nil {
		fmt.Println(err)
		return
	}
	svc, err := anpi.New(st, &anpi.Options{Clock: clock, BaseURL: "https://anpi.corp.example"})
	if err != nil {
		fmt.Println(err)
		return
	}

	inv, err := svc.Invite(ctx, "admin", "yamada")
	if err != nil {
		fmt.Println(err)
		return
	}
	png, err := qrcode.PNG(inv.URL, nil) // for the printed sheet
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("QR code PNG:", len(png) > 0, "valid until", inv.ExpiresAt.Format(time.DateOnly))

	// The self-service page: the token is the last part of the link.
	token := strings.TrimPrefix(inv.URL, "https://anpi.corp.example"+anpi.InvitationPath)
	who, err := svc.RedeemInvitation(ctx, token)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("welcome,", who.User.Name)
	c, err := svc.RegisterContact(ctx, token, &anpi.Contact{Kind: anpi.EmailContact, Address: "taro@home.example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("registered:", c.Kind, c.Scope, "verified:", c.Check.Verified)

	// LINE account linking: the Linker puts a nonce for the signed-in user,
	// LINE's webhook event takes it, and the Service registers the contact.
	nonces := svc.LINENonces()
	if err := nonces.Put(ctx, "nonce-from-linker", "yamada", now.Add(10*time.Minute)); err != nil {
		fmt.Println(err)
		return
	}
	user, ok, err := nonces.Take(ctx, "nonce-from-linker")
	if err != nil || !ok {
		fmt.Println(ok, err)
		return
	}
	status, err := svc.LinkLINE(ctx, anpi.UserID(user), "U0123456789abcdef0123456789abcdef")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("linked:", status.Kind, "verified:", status.Verified)
	// Output:
	// QR code PNG: true valid until 2030-04-15
	// welcome, 山田 太郎
	// registered: email private verified: false
	// linked: line verified: true
}
