package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/storetest"
	"github.com/stretchr/testify/require"
)

const (
	crashUsers     = 500
	crashBatch     = 20 // deliveries per enqueue transaction
	crashWriters   = 8  // goroutines recording answers in the child
	crashBudget    = 45 * time.Second
	crashChildLife = 30 * time.Second
)

// TestHelperCrashChild is the child process of TestCrash: it records
// answers through the group committer from several goroutines and
// enqueues deliveries in InTx batches, as fast as it can, printing each
// acknowledgement ("R id" after RecordResponse returned nil, "D batch n"
// after InTx returned nil) until it is killed.
func TestHelperCrashChild(t *testing.T) {
	path := os.Getenv("ANPI_SQLITE_CRASH_DB")
	if path == "" {
		t.Skip("child process of TestCrash")
	}
	run := os.Getenv("ANPI_SQLITE_CRASH_RUN")
	seed, _ := strconv.ParseUint(run, 10, 64)
	time.AfterFunc(crashChildLife, func() { os.Exit(3) }) // never outlive a dead parent for long
	ctx := context.Background()
	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = os.Stdout.WriteString(line + "\n") // one write: whole lines reach the pipe
	}
	ack("ready")
	var wg sync.WaitGroup
	for g := range crashWriters {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(seed, uint64(g)))
			for j := 0; ; j++ {
				id := fmt.Sprintf("r%s-%d-%d", run, g, j)
				u := anpi.UserID(fmt.Sprintf("u%05d", rnd.IntN(crashUsers)))
				self := []string{"safe", "minor", "serious"}[rnd.IntN(3)]
				ok, err := st.RecordResponse(ctx, answer(id, u, t0.Add(time.Duration(rnd.IntN(7200))*time.Second), self))
				if err != nil || !ok {
					fmt.Fprintln(os.Stderr, "record:", ok, err)
					continue
				}
				ack("R " + id)
			}
		})
	}
	wg.Go(func() {
		rnd := rand.New(rand.NewPCG(seed, 99))
		for k := 0; ; k++ {
			batch := fmt.Sprintf("d%s-%d", run, k)
			round, _ := strconv.Atoi(fmt.Sprintf("%s%06d", run, k))
			err := st.InTx(ctx, func(tx anpi.Tx) error {
				ds := make([]*anpi.Delivery, crashBatch)
				first := rnd.IntN(crashUsers - crashBatch)
				for j := range ds {
					ds[j] = &anpi.Delivery{ID: anpi.DeliveryID(fmt.Sprintf("%s-%d", batch, j)), SurveyID: "s", UserID: anpi.UserID(fmt.Sprintf("u%05d", first+j)),
						Channel: anpi.EmailChannel, Round: round, State: anpi.Queued, NextAttemptAt: t0}
				}
				n, err := tx.EnqueueDeliveries(ctx, ds)
				if err == nil && n != crashBatch {
					err = fmt.Errorf("enqueued %d of %d", n, crashBatch)
				}
				return err
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, "enqueue:", err)
				continue
			}
			ack(fmt.Sprintf("D %s %d", batch, crashBatch))
		}
	})
	wg.Wait()
}

// TestCrash kills a child process that writes as fast as it can with
// SIGKILL at random moments (ANPI_CRASH_KILLS times, default 50, within a
// time budget) and checks after each kill that every acknowledged answer
// and enqueue survived, that the counters equal a recount, and that each
// enqueue transaction is present entirely or not at all.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	kills := 50
	if v := os.Getenv("ANPI_CRASH_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "ANPI_CRASH_KILLS")
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "crash.db")
	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	seedSurvey(t, st, crashUsers)
	require.NoError(t, st.Close())

	ackedR := map[string]bool{}
	ackedD := map[string]int{}
	started := time.Now()
	survived := 0
	for run := 1; run <= kills; run++ {
		if time.Since(started) > crashBudget {
			t.Logf("time budget spent after %d kills", survived)
			break
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ANPI_SQLITE_CRASH_DB="+path, "ANPI_SQLITE_CRASH_RUN="+strconv.Itoa(run))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		// Kill right away (during Open and recovery) one time in ten,
		// otherwise after a random number of acknowledgements.
		killAfter := -1
		if rnd.IntN(10) > 0 {
			killAfter = rnd.IntN(200)
		}
		if killAfter < 0 {
			require.NoError(t, cmd.Process.Kill())
		}
		sc := bufio.NewScanner(stdout)
		lines := 0
		killed := killAfter < 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "R":
				ackedR[f[1]] = true
			case len(f) == 3 && f[0] == "D":
				ackedD[f[1]], _ = strconv.Atoi(f[2])
			case len(f) == 1 && f[0] == "ready":
			default:
				t.Fatalf("child printed %q", sc.Text())
			}
			lines++
			if !killed && lines > killAfter {
				require.NoError(t, cmd.Process.Kill()) // SIGKILL
				killed = true
			}
		}
		if !killed {
			_ = cmd.Process.Kill()
		}
		err = cmd.Wait()
		if err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("run %d: child ended with %v, not by the kill; stderr:\n%s", run, err, stderr.String())
		}
		survived++
		verifyCrash(t, path, ackedR, ackedD)
	}
	require.GreaterOrEqual(t, survived, min(kills, 1))
	t.Logf("survived %d kills in %s; verified %d acknowledged answers and %d acknowledged enqueue batches (%d deliveries)",
		survived, time.Since(started).Round(time.Millisecond), len(ackedR), len(ackedD), len(ackedD)*crashBatch)
}

func verifyCrash(t *testing.T, path string, ackedR map[string]bool, ackedD map[string]int) {
	t.Helper()
	ctx := t.Context()
	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	present := map[string]bool{}
	rows, err := st.rdb.QueryContext(ctx, "SELECT id FROM responses")
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		present[id] = true
	}
	require.NoError(t, rows.Err())
	rows.Close()
	for id := range ackedR {
		require.True(t, present[id], "acknowledged answer %s lost", id)
	}
	require.NoError(t, storetest.VerifyTally(ctx, st, "s"))

	batches := map[string]int{}
	rows, err = st.rdb.QueryContext(ctx, "SELECT id FROM deliveries")
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		batch := id[:strings.LastIndexByte(id, '-')]
		batches[batch]++
	}
	require.NoError(t, rows.Err())
	rows.Close()
	for b, n := range batches {
		require.Equal(t, crashBatch, n, "enqueue batch %s is partly present (or duplicated)", b)
	}
	for b, n := range ackedD {
		require.Equal(t, n, batches[b], "acknowledged enqueue batch %s lost", b)
	}
	var dup int
	require.NoError(t, st.rdb.QueryRowContext(ctx, "SELECT COUNT(*) - COUNT(DISTINCT survey_id || '/' || user_id || '/' || channel || '/' || contact_id || '/' || round) FROM deliveries").Scan(&dup))
	require.Zero(t, dup, "no delivery key twice")
}
