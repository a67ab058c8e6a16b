package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
	"github.com/anpikit/anpi/store/storetest"
	"github.com/stretchr/testify/require"
)

// The suite must be able to fail. Each broken store below is memstore with
// one bug; TestSuiteCatchesBrokenStores runs the suite against it in a
// subprocess (a failing subtest cannot be observed from inside the same
// test binary run) and checks that the right checks fail.

// noRollback commits each call of a transaction at once, so a failing or
// panicking transaction keeps what it did.
type noRollback struct{ *memstore.Store }

func (s noRollback) InTx(ctx context.Context, fn func(anpi.Tx) error) error { return fn(s.Store) }

// doubleClaim hands out claimable deliveries without leasing them, so
// concurrent claimers get the same ones.
type doubleClaim struct{ *memstore.Store }

func (s doubleClaim) ClaimDeliveries(ctx context.Context, req anpi.ClaimRequest) ([]*anpi.Delivery, error) {
	errUndo := errors.New("undo")
	var out []*anpi.Delivery
	err := s.Store.InTx(ctx, func(tx anpi.Tx) error {
		var err error
		out, err = tx.ClaimDeliveries(ctx, req)
		if err != nil {
			return err
		}
		return errUndo
	})
	if !errors.Is(err, errUndo) {
		return nil, err
	}
	return out, nil
}

// doubleCount forgets to take a replaced answer's choices off the tally.
type doubleCount struct{ *memstore.Store }

func (s doubleCount) Tally(ctx context.Context, id anpi.SurveyID) (*anpi.Tally, error) {
	t, err := s.Store.Tally(ctx, id)
	if err != nil {
		return nil, err
	}
	resps, err := s.Store.Responses(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, r := range resps {
		hist, err := s.Store.ResponseHistory(ctx, id, r.UserID)
		if err != nil {
			return nil, err
		}
		for _, old := range hist[:len(hist)-1] {
			t.Choices.AddResponse(old, 1)
		}
	}
	return t, nil
}

// leakyView shows administrators the raw delivery error, which echoes
// private addresses.
type leakyView struct{ *memstore.Store }

func (s leakyView) AdminUserView(ctx context.Context, u anpi.UserID) (*anpi.AdminUserView, error) {
	v, err := s.Store.AdminUserView(ctx, u)
	if err != nil {
		return nil, err
	}
	cs, err := s.Store.Contacts(ctx, u)
	if err != nil {
		return nil, err
	}
	for i := range v.Contacts {
		for _, c := range cs {
			if c.ID == v.Contacts[i].ID {
				v.Contacts[i].LastError = c.Check.LastError
			}
		}
	}
	return v, nil
}

func brokenStore(name string) func(t *testing.T) anpi.Store {
	return func(t *testing.T) anpi.Store {
		st := memstore.New(nil)
		switch name {
		case "healthy":
			return st
		case "norollback":
			return noRollback{st}
		case "doubleclaim":
			return doubleClaim{st}
		case "doublecount":
			return doubleCount{st}
		case "leakyview":
			return leakyView{st}
		}
		t.Fatalf("unknown broken store %q", name)
		return nil
	}
}

const brokenEnv = "ANPI_STORETEST_BROKEN"

// TestBrokenStoreHelper runs the suite against the store named by
// $ANPI_STORETEST_BROKEN; it does nothing in a normal run.
func TestBrokenStoreHelper(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("run as a subprocess by TestSuiteCatchesBrokenStores")
	}
	storetest.Run(t, brokenStore(name))
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	cases := []struct {
		store    string
		failing  []string // subtests that must fail
		passing  []string // subtests that must still pass: the failures are specific
		exitCode int
	}{
		{"healthy", nil, []string{"Users", "Rollback/Error", "Outbox/ConcurrentClaims", "Tally/MatchesRecount", "AdminViewPrivacy", "Tokens/PutAndGet", "Tokens/Revoke", "Tokens/Rollback", "Messages/Messages", "Messages/Rollback"}, 0},
		{"norollback", []string{"Rollback/Error", "Rollback/Panic", "Audit", "Tokens/Rollback", "Tokens/DeleteSurvey", "Messages/Rollback"}, []string{"Users", "Outbox/ConcurrentClaims", "AdminViewPrivacy", "Tokens/PutAndGet", "Tokens/Revoke", "Messages/Messages", "Messages/Boards"}, 1},
		{"doubleclaim", []string{"Outbox/ConcurrentClaims", "Outbox/ClaimOrder", "Outbox/ExpiredLease"}, []string{"Users", "Rollback/Error", "Tally/MatchesRecount", "AdminViewPrivacy"}, 1},
		{"doublecount", []string{"Tally/MatchesRecount", "Responses"}, []string{"Users", "Rollback/Error", "Outbox/ConcurrentClaims", "AdminViewPrivacy"}, 1},
		{"leakyview", []string{"AdminViewPrivacy"}, []string{"Users", "Rollback/Error", "Outbox/ConcurrentClaims", "Tally/MatchesRecount"}, 1},
	}
	for _, c := range cases {
		t.Run(c.store, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenStoreHelper$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+c.store)
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else {
				require.NoError(t, err, "running the suite in a subprocess")
			}
			report := string(out)
			require.Equal(t, c.exitCode, code, "exit code of the suite against %s; output:\n%s", c.store, tail(report))
			for _, name := range c.failing {
				if !strings.Contains(report, "--- FAIL: TestBrokenStoreHelper/"+name+" ") {
					t.Errorf("the suite should report %s against %s; output ends:\n%s", name, c.store, tail(report))
				}
			}
			for _, name := range c.passing {
				if !strings.Contains(report, "--- PASS: TestBrokenStoreHelper/"+name+" ") {
					t.Errorf("%s should pass against %s; output ends:\n%s", name, c.store, tail(report))
				}
			}
		})
	}
}

// tail returns the end of a long test report.
func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
