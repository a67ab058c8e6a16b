package anpi_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

// A monthly contact check (連絡先の確認): Tick starts it at 10:00 JST on the
// 1st; the dispatcher renders one message per contact (here Render is
// called by hand); the user confirms through the link; what was not
// confirmed or failed shows in the administrators' lists.
func ExampleService_StartContactCheck() {
	ctx := context.Background()
	now := time.Date(2030, 5, 1, 1, 0, 0, 0, time.UTC) // 10:00 JST on the 1st
	clock := func() time.Time { return now }
	st := memstore.New(&memstore.Options{Now: clock})
	defer st.Close()
	for _, u := range []*anpi.User{
		{ID: "yamada", EmployeeCode: "E1", Name: "山田 太郎", WorkEmail: "yamada@corp.example", Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "sato", EmployeeCode: "E2", Name: "佐藤 花子", Status: anpi.Active, Locale: anpi.Japanese},
	} {
		if err := st.CreateUser(ctx, u); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := st.PutContact(ctx, &anpi.Contact{ID: "yamada-home", UserID: "yamada", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: "taro@home.example"}); err != nil {
		fmt.Println(err)
		return
	}
	if err := st.GrantRole(ctx, anpi.RoleGrant{UserID: "sato", Role: anpi.Manager}); err != nil {
		fmt.Println(err)
		return
	}

	svc, err := anpi.New(st, &anpi.Options{Clock: clock, BaseURL: "https://anpi.corp.example", ContactCheck: &anpi.ContactCheckOptions{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := svc.Tick(ctx); err != nil {
		fmt.Println(err)
		return
	}
	checks, err := st.ListSurveys(ctx, &anpi.SurveyQuery{Kind: anpi.ContactCheckSurvey})
	if err != nil {
		fmt.Println(err)
		return
	}
	ds, err := st.Deliveries(ctx, checks[0].ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(checks[0].Title)
	var link string
	for _, d := range ds {
		if d.ContactID != "yamada-home" {
			fmt.Println(d.UserID, d.Channel, "work email or none:", d.State)
			continue
		}
		m, _, err := svc.Render(ctx, d) // what the dispatcher does
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(m.To, m.Subject)
		link = m.URL
	}

	// Yamada opens the link on his home address and confirms.
	c, err := svc.ConfirmContact(ctx, strings.TrimPrefix(link, "https://anpi.corp.example"+anpi.ContactCheckPath))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("confirmed:", c.Contact.ID, c.Contact.Verified)

	// Sato, a manager, sees who has no private contact: no addresses.
	without, err := svc.UsersWithoutPrivateContact(ctx, "sato")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range without {
		fmt.Println("no private contact:", v.User.Name)
	}
	// Unordered output:
	// 連絡先の確認 2030-05-01
	// yamada email work email or none: queued
	// sato email work email or none: skipped_no_contact
	// taro@home.example 【連絡先の確認】安否確認の連絡先
	// confirmed: yamada-home true
	// no private contact: 佐藤 花子
}
