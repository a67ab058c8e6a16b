package sqlite

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// TestWritesShareACommit: transactions queued while the writer is busy run
// in one SQLite transaction and one commit; one that fails or panics
// changes nothing and does not stop the others, and each caller hears
// what became of its own.
func TestWritesShareACommit(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, &Options{AllowPlaintextContacts: true})
	require.NoError(t, st.CreateDepartment(ctx, &anpi.Department{ID: "hq", Name: "本社"}))
	user := func(id string) *anpi.User {
		return &anpi.User{ID: anpi.UserID(id), EmployeeCode: "E-" + id, Name: id, Departments: []anpi.DepartmentID{"hq"}, Status: anpi.Active, Locale: anpi.Japanese}
	}

	// Hold the writer, so that the others queue behind it.
	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- st.InTx(ctx, func(tx anpi.Tx) error {
			close(holding)
			<-release
			return tx.CreateUser(ctx, user("first"))
		})
	}()
	<-holding
	before := st.w.commits.Load()

	const n = 10
	boom := errors.New("boom")
	errs := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			errs[i] = st.InTx(ctx, func(tx anpi.Tx) error {
				if err := tx.CreateUser(ctx, user(fmt.Sprintf("u%d", i))); err != nil {
					return err
				}
				switch i {
				case 3:
					return boom
				case 5:
					panic("five")
				case 7:
					return tx.CreateUser(ctx, user("first")) // taken by the holder: AlreadyExists
				}
				return nil
			})
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for st.wq.len() < n {
		require.True(t, time.Now().Before(deadline), "the transactions did not queue")
		runtime.Gosched()
	}
	close(release)
	require.NoError(t, <-held)
	wg.Wait()

	require.Equal(t, int64(2), st.w.commits.Load()-before, "the one holding the writer, then all ten in one commit")
	for i := range n {
		_, err := st.GetUser(ctx, anpi.UserID(fmt.Sprintf("u%d", i)))
		switch i {
		case 3:
			require.ErrorIs(t, errs[i], boom)
			requireCode(t, anpi.NotFound, err)
		case 5:
			require.Equal(t, "five", panics[i], "the panic goes on in its caller")
			requireCode(t, anpi.NotFound, err)
		case 7:
			requireCode(t, anpi.AlreadyExists, errs[i])
			requireCode(t, anpi.NotFound, err)
		default:
			require.NoError(t, errs[i], "u%d", i)
			require.NoError(t, err, "u%d committed", i)
		}
	}
	_, err := st.GetUser(ctx, "first")
	require.NoError(t, err)
}
