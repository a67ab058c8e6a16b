package dispatch_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/memchan"
	"github.com/anpikit/anpi/internal/pace"
	"github.com/anpikit/anpi/store/memstore"
)

// Send a survey's deliveries: Yamada's app push works, Sato's app was
// uninstalled, so he gets an email instead, and his push token is marked
// broken.
func Example() {
	ctx := context.Background()
	clock := pace.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memstore.New(&memstore.Options{Now: clock.Now})
	_ = st.CreateSurvey(ctx, &anpi.Survey{ID: "quake", Kind: anpi.ManualSurvey, Title: "安否確認",
		Form: anpi.DefaultForm(), Status: anpi.Open})
	for _, u := range []string{"yamada", "sato"} {
		_ = st.CreateUser(ctx, &anpi.User{ID: anpi.UserID(u), EmployeeCode: u, Name: u, Status: anpi.Active, Locale: anpi.Japanese})
		_ = st.PutContact(ctx, &anpi.Contact{ID: anpi.ContactID(u + "-app"), UserID: anpi.UserID(u), Kind: anpi.FCMContact,
			Scope: anpi.PrivateScope, Address: "token-" + u})
		_ = st.PutContact(ctx, &anpi.Contact{ID: anpi.ContactID(u + "-mail"), UserID: anpi.UserID(u), Kind: anpi.EmailContact,
			Scope: anpi.PrivateScope, Address: u + "@example.jp"})
	}
	// What the engine does: one delivery per recipient on the first channel.
	_, _ = st.EnqueueDeliveries(ctx, []*anpi.Delivery{
		{ID: "d1", SurveyID: "quake", UserID: "yamada", Channel: anpi.FCMChannel, State: anpi.Queued, NextAttemptAt: clock.Now()},
		{ID: "d2", SurveyID: "quake", UserID: "sato", Channel: anpi.FCMChannel, State: anpi.Queued, NextAttemptAt: clock.Now()},
	})

	push := memchan.New(&memchan.Options{Kind: channel.FCM, Now: clock.Now})
	push.FailWith("token-sato", channel.Errorf(channel.Unregistered, "fcm: 404 UNREGISTERED"))
	mail := memchan.New(&memchan.Options{Kind: channel.Email, Now: clock.Now})

	// The engine's renderer picks the contact and renders the template.
	render := dispatch.RendererFunc(func(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
		cs, err := st.Contacts(ctx, d.UserID)
		if err != nil {
			return nil, "", err
		}
		for _, c := range cs {
			if c.Kind == d.Channel.ContactKind() && !c.Check.Broken {
				return &channel.Message{To: c.Address, Subject: "安否確認", Text: "ご無事ですか"}, c.ID, nil
			}
		}
		return nil, "", anpi.Errorf(anpi.NotFound, "no %s contact", d.Channel)
	})
	d, err := dispatch.New(st, &dispatch.Options{
		Senders:  map[anpi.Channel]channel.Sender{anpi.FCMChannel: push, anpi.EmailChannel: mail},
		Renderer: render,
		Clock:    clock,
	})
	if err != nil {
		panic(err)
	}
	// Step makes one round per channel; a server calls Run instead.
	stats, err := d.Step(ctx)
	fmt.Printf("%+v %v\n", stats, err)
	for _, s := range push.Sent() {
		fmt.Println("push:", s.Message.To, s.Message.IdempotencyKey)
	}
	for _, s := range mail.Sent() {
		fmt.Println("mail:", s.Message.To, s.Message.IdempotencyKey)
	}
	c, _ := st.GetContact(ctx, "sato-app")
	fmt.Println("sato's app broken:", c.Check.Broken)
	// Output:
	// {Claimed:3 Sent:2 Retried:0 RateLimited:0 FellBack:1 Exhausted:0 NoContact:0 Dropped:0 Broken:1 LeaseLost:0 Errors:0} <nil>
	// push: token-yamada quake/yamada/fcm//0
	// mail: sato@example.jp quake/sato/email//0
	// sato's app broken: true
}

// signalling is a sender that tells when it sent.
type signalling struct {
	channel.Sender
	sent chan<- struct{}
}

func (s signalling) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	r, err := s.Sender.Send(ctx, m)
	s.sent <- struct{}{}
	return r, err
}

// An engine wired as a server wires it: the Service hands the deliveries
// of its auto-sends to the running dispatcher, leased to it, as each chunk
// of the fan-out commits, so they are sent without being claimed; it also
// wakes the dispatcher after each commit that enqueued (OnEnqueue), for
// the deliveries it claims.
func ExampleHandoff() {
	ctx := context.Background()
	st := memstore.New(nil)
	_ = st.PutRule(ctx, &anpi.RuleRecord{ID: "quake", Name: "震度5弱以上", Enabled: true,
		Spec: []byte(`{"id":"quake","kind":"earthquake","earthquake":{"threshold":"5-"}}`)})
	r, _ := anpi.ParseRegion("quake:390") // 石川県能登
	_ = st.CreateUser(ctx, &anpi.User{ID: "yamada", EmployeeCode: "E1", Name: "山田", Status: anpi.Active, Locale: anpi.Japanese,
		Regions: []anpi.Region{r}})
	_ = st.PutContact(ctx, &anpi.Contact{ID: "yamada-app", UserID: "yamada", Kind: anpi.FCMContact, Scope: anpi.PrivateScope,
		Address: "token-yamada"})

	var d *dispatch.Dispatcher
	handoff := dispatch.NewHandoff()
	svc, err := anpi.New(st, &anpi.Options{BaseURL: "https://anpi.example.co.jp", Handoff: handoff,
		OnEnqueue: func() { d.Notify() }})
	if err != nil {
		panic(err)
	}
	push := memchan.New(&memchan.Options{Kind: channel.FCM})
	sent := make(chan struct{}, 1)
	d, err = dispatch.New(st, &dispatch.Options{Senders: map[anpi.Channel]channel.Sender{anpi.FCMChannel: signalling{push, sent}},
		Renderer: svc, Handoff: handoff})
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(runCtx) }()

	doc, err := os.ReadFile("../../jma/testdata/vxse51_event_a_1.xml") // 震度速報, 能登 震度6強
	if err != nil {
		panic(err)
	}
	if _, err := svc.HandleDocument(ctx, doc); err != nil {
		panic(err)
	}
	<-sent
	stop()
	<-stopped // Run records the results of the sends in flight before it returns
	m := push.Sent()[0].Message
	fmt.Println("push to", m.To, "with a link:", strings.HasPrefix(m.URL, "https://anpi.example.co.jp/a/"))
	ds, _ := st.Deliveries(ctx, anpi.SurveyID(m.Data["survey"]))
	fmt.Println(ds[0].UserID, ds[0].State)
	// Output:
	// push to token-yamada with a link: true
	// yamada sent
}
