package sqlite

import (
	"os"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// TestBackgroundCheckpoint: a commit wakes the checkpointer, which copies
// the log into the database file on its own connection, so that a copy
// of the database file alone (no -wal beside it) holds the commit.
func TestBackgroundCheckpoint(t *testing.T) {
	ran := make(chan error, 16)
	st := openTest(t, &Options{checkpointed: func(err error) { ran <- err }})
	require.NoError(t, st.CreateSurvey(t.Context(), &anpi.Survey{ID: "s1", Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(),
		Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedAt: t0, StartedAt: t0}))
	// Checkpoints may also follow the commits of Open; wait for one that
	// copied the survey's.
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case err := <-ran:
			require.NoError(t, err)
		case <-deadline.C:
			t.Fatal("no background checkpoint within 30 s of a commit")
		}
		if surveyInFile(t, st.Path()) {
			return
		}
	}
}

// surveyInFile reports whether the database file alone, copied without
// its log, holds survey s1.
func surveyInFile(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	cp := t.TempDir() + "/copy.db"
	require.NoError(t, os.WriteFile(cp, b, 0o600))
	st, err := Open(t.Context(), cp, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	sv, err := st.GetSurvey(t.Context(), "s1")
	if anpi.Code(err) == anpi.NotFound {
		return false
	}
	require.NoError(t, err)
	return sv != nil
}
