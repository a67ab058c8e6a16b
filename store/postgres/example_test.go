package postgres_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/postgres"
)

// Example opens the store a server replica uses, records an answer and
// reads the live tally. It needs a PostgreSQL server, so it is compiled
// but not run by go test.
func Example() {
	ctx := context.Background()
	// A real deployment loads its key from a secret store; every replica
	// has the same keys.
	key, err := base64.StdEncoding.DecodeString(os.Getenv("ANPI_CONTACT_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	sealer, err := anpi.NewAESSealer("2024", map[string][]byte{"2024": key}, nil)
	if err != nil {
		log.Fatal(err)
	}
	st, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), &postgres.Options{Schema: "anpi", Sealer: sealer})
	if err != nil {
		log.Fatal(err) // a newer schema, a server down, a missing Sealer: anpi.Code(err) says which
	}
	defer st.Close()

	// The answer page: RecordResponse returns once the answer is committed
	// (answers arriving together share one commit).
	ok, err := st.RecordResponse(ctx, &anpi.Response{
		ID: "r-7f3a", SurveyID: "quake-2024-01-01", UserID: "u1", Channel: anpi.ViaWeb, At: time.Now(),
		Answers: []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}},
	})
	switch {
	case anpi.Code(err) == anpi.FailedPrecondition:
		fmt.Println("the survey is closed")
	case err != nil:
		log.Fatal(err)
	case !ok:
		fmt.Println("already recorded (a retried request)")
	}

	// The dashboard: counters only, whatever the number of recipients.
	tl, err := st.Tally(ctx, "quake-2024-01-01")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("answered %d of %d (%.0f%%), median %s\n", tl.Answered, tl.Targets, 100*tl.ResponseRate(), tl.AnswerTimes().Median)
}

// ExampleStore_WaitForDeliveries is the loop of a dispatcher: any number
// of them, in any number of replicas, share the outbox. It claims what is
// due, sends it, and sleeps until another replica enqueues something or a
// retry may be due.
func ExampleStore_WaitForDeliveries() {
	ctx := context.Background()
	st, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), &postgres.Options{Schema: "anpi", AllowPlaintextContacts: true})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	owner, _ := os.Hostname()
	send := func(d *anpi.Delivery) (string, error) { return "provider-id-of-" + string(d.ID), nil } // a channel.Sender in a real server
	for ctx.Err() == nil {
		ds, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: owner, Limit: 100, Lease: time.Minute, Now: time.Now()})
		if err != nil {
			log.Print(err)
		}
		for _, d := range ds {
			providerID, err := send(d)
			if err != nil {
				err = st.FailDelivery(ctx, d.ID, owner, anpi.SendFailure{Error: err.Error(), At: time.Now(), RetryAt: time.Now().Add(30 * time.Second)})
			} else {
				err = st.CompleteDelivery(ctx, d.ID, owner, anpi.SendResult{ProviderID: providerID, At: time.Now()})
			}
			if err != nil {
				log.Print(err) // FailedPrecondition: the lease expired and another worker took it
			}
		}
		if len(ds) == 0 {
			wait, cancel := context.WithTimeout(ctx, 5*time.Second) // retries and reminders send no NOTIFY
			_ = st.WaitForDeliveries(wait)
			cancel()
		}
	}
}
