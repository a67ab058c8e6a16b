package dispatch_test

import (
	"context"
	"fmt"
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
