package anpi_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

// An intranet application embeds the Service: a store, the directory and
// an auto-send rule, then a JMA report (here read from a file; in
// production from Service.Run and a jma.Poller). The dispatcher renders the
// queued deliveries, a recipient answers through his link, and the tally
// is read.
func ExampleService() {
	ctx := context.Background()
	now := time.Date(2030, 4, 1, 1, 6, 0, 0, time.UTC) // 10:06 JST
	clock := func() time.Time { return now }
	st := memstore.New(&memstore.Options{Now: clock})
	defer st.Close()

	region := func(s string) []anpi.Region { r, _ := anpi.ParseRegion(s); return []anpi.Region{r} }
	for _, u := range []*anpi.User{
		{ID: "yamada", EmployeeCode: "E1", Name: "山田 太郎", WorkEmail: "yamada@corp.example", Regions: region("quake:350"), Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "smith", EmployeeCode: "E2", Name: "John Smith", Regions: region("quake:360"), Status: anpi.Active, Locale: anpi.English},
		{ID: "suzuki", EmployeeCode: "E3", Name: "鈴木 一郎", WorkEmail: "suzuki@corp.example", Regions: region("quake:351"), Status: anpi.Active, Locale: anpi.Japanese},
	} {
		if err := st.CreateUser(ctx, u); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Smith registered the company app on his phone.
	if err := st.PutContact(ctx, &anpi.Contact{ID: "smith-app", UserID: "smith", Kind: anpi.FCMContact, Scope: anpi.PrivateScope, Address: "fcm-registration-token"}); err != nil {
		fmt.Println(err)
		return
	}
	rule := `{"id":"quake-5lower","name":"震度5弱以上","kind":"earthquake","earthquake":{"threshold":"5-"}}`
	if err := st.PutRule(ctx, &anpi.RuleRecord{ID: "quake-5lower", Enabled: true, Spec: []byte(rule)}); err != nil {
		fmt.Println(err)
		return
	}

	svc, err := anpi.New(st, &anpi.Options{Clock: clock, BaseURL: "https://anpi.corp.example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := os.ReadFile("testdata/vxse53_tokyo.xml") // 震度5強 in 東京都２３区, 5弱 in 神奈川県東部, 4 in 多摩東部
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := svc.HandleDocument(ctx, data)
	if err != nil {
		fmt.Println(err)
		return
	}
	f := out.Effects[0]
	fmt.Printf("%s: %d asked, %d deliveries queued\n", f.Action, f.Recipients, f.Queued)

	// The dispatcher's side: render each delivery for its channel.
	ds, _ := st.Deliveries(ctx, f.Survey)
	slices.SortFunc(ds, func(a, b *anpi.Delivery) int { return strings.Compare(string(a.UserID), string(b.UserID)) })
	var link string
	for _, d := range ds {
		m, _, err := svc.Render(ctx, d)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s via %s: %s\n", d.UserID, d.Channel, m.Subject)
		if d.UserID == "yamada" {
			link = m.URL
		}
	}

	// Yamada opens his link and answers.
	token := strings.TrimPrefix(link, "https://anpi.corp.example/a/")
	_, err = svc.AnswerByToken(ctx, token, []anpi.Answer{
		{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}},
		{QuestionID: anpi.QuestionWork, Choices: []string{"cannot"}},
	}, anpi.ViaWeb)
	if err != nil {
		fmt.Println(err)
		return
	}
	tally, _ := st.Tally(ctx, f.Survey)
	fmt.Printf("answered %d of %d; safe %d, cannot come to work %d\n", tally.Answered, tally.Targets,
		tally.Choices[anpi.QuestionSelf]["safe"], tally.Choices[anpi.QuestionWork]["cannot"])
	// Output:
	// send: 2 asked, 2 deliveries queued
	// smith via fcm: [Safety check] 震源・震度情報 震度５強
	// yamada via email: 【安否確認】震源・震度情報 震度５強
	// answered 1 of 2; safe 1, cannot come to work 1
}
