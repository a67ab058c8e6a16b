package postgres

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

const (
	crashUsers     = 2000
	crashBatch     = 20 // deliveries per enqueue transaction
	crashWriters   = 8  // goroutines recording answers in the child
	crashBudget    = 50 * time.Second
	crashChildLife = 30 * time.Second
	crashAppName   = "anpi_crash_child"
)

// TestHelperCrashChild is the child process of TestCrash: it records
// answers through the group committer from several goroutines, enqueues
// deliveries in InTx batches and claims and completes them, as fast as it
// can, printing each acknowledgement only after the call returned nil
// ("R id" for an answer, "D batch n" for an enqueue, "C id" for a
// completed delivery) until it is killed.
func TestHelperCrashChild(t *testing.T) {
	schema := os.Getenv("ANPI_PG_CRASH_SCHEMA")
	if schema == "" {
		t.Skip("child process of TestCrash")
	}
	run := os.Getenv("ANPI_PG_CRASH_RUN")
	seed, _ := strconv.ParseUint(run, 10, 64)
	time.AfterFunc(crashChildLife, func() { os.Exit(3) }) // never outlive a dead parent for long
	ctx := context.Background()
	st, err := Open(ctx, os.Getenv("ANPI_PG_CRASH_URL"), &Options{Schema: schema, AllowPlaintextContacts: true})
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
	wg.Go(func() {
		owner := "child-" + run
		for {
			ds, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: owner, Limit: 10, Lease: time.Second, Now: time.Now()})
			if err != nil {
				fmt.Fprintln(os.Stderr, "claim:", err)
				continue
			}
			for _, d := range ds {
				if err := st.CompleteDelivery(ctx, d.ID, owner, anpi.SendResult{ProviderID: "p-" + string(d.ID)}); err != nil {
					fmt.Fprintln(os.Stderr, "complete:", err)
					continue
				}
				ack("C " + string(d.ID))
			}
		}
	})
	wg.Wait()
}

// TestCrash kills a child process that writes as fast as it can with
// SIGKILL at random moments (ANPI_CRASH_KILLS times, default 50, within a
// time budget) and checks after each kill, once the child's sessions on
// the server have ended, that every acknowledged answer, enqueue and completion
// survived, that the counters equal a recount, and that each enqueue
// transaction is present entirely or not at all, with no delivery key
// twice.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	dbURL, schema := testSchema(t)
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
	st, err := Open(ctx, dbURL, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	seedSurvey(t, st, crashUsers)

	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("application_name", crashAppName+"_"+schema)
	u.RawQuery = q.Encode()
	childURL := u.String()

	ackedR := map[string]bool{}
	ackedD := map[string]int{}
	ackedC := map[string]bool{}
	started := time.Now()
	survived := 0
	for run := 1; run <= kills; run++ {
		if time.Since(started) > crashBudget {
			t.Logf("time budget spent after %d kills", survived)
			break
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ANPI_PG_CRASH_URL="+childURL, "ANPI_PG_CRASH_SCHEMA="+schema, "ANPI_PG_CRASH_RUN="+strconv.Itoa(run))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		// Kill right away (during Open and the migration check) one time
		// in ten, otherwise after a random number of acknowledgements.
		killAfter := -1
		if rnd.IntN(10) > 0 {
			killAfter = rnd.IntN(600)
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
			case len(f) == 2 && f[0] == "C":
				ackedC[f[1]] = true
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
		endSessions(t, st, crashAppName+"_"+schema)
		verifyCrash(t, st, ackedR, ackedD, ackedC)
	}
	require.GreaterOrEqual(t, survived, min(kills, 1))
	t.Logf("survived %d kills in %s; verified %d acknowledged answers, %d acknowledged enqueue batches (%d deliveries) and %d acknowledged completions",
		survived, time.Since(started).Round(time.Millisecond), len(ackedR), len(ackedD), len(ackedD)*crashBatch, len(ackedC))
}

// endSessions ends every session the killed child left on the server, as
// the server does by itself once it notices the closed sockets (it rolls
// back what they had not committed), and waits for them to be gone, so
// that the checks see a database nobody writes to.
func endSessions(t *testing.T, st *Store, app string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		// pg_terminate_backend waits (up to 20 s) for each to exit; one
		// that exits by itself meanwhile makes it return false.
		var left int
		err := st.pool.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid, 20000)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&left)
		require.NoError(t, err, "the killed child's sessions did not end")
		if left == 0 {
			return
		}
	}
}

func verifyCrash(t *testing.T, st *Store, ackedR map[string]bool, ackedD map[string]int, ackedC map[string]bool) {
	t.Helper()
	ctx := t.Context()
	// One snapshot for every check.
	pgTx, err := st.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	require.NoError(t, err)
	defer func() { _ = pgTx.Rollback(context.WithoutCancel(ctx)) }()

	rows, err := pgTx.Query(ctx, st.sql("SELECT id FROM {responses}"))
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	present := make(map[string]bool, len(ids))
	for _, id := range ids {
		present[id] = true
	}
	for id := range ackedR {
		require.True(t, present[id], "acknowledged answer %s lost", id)
	}
	require.NoError(t, storetest.VerifyTally(ctx, newTx(st, pgTx, false), "s"))

	batches := map[string]int{}
	state := map[string]string{}
	rows, err = pgTx.Query(ctx, st.sql("SELECT id, state, lease_owner FROM {deliveries}"))
	require.NoError(t, err)
	var id, s, owner string
	_, err = pgx.ForEachRow(rows, []any{&id, &s, &owner}, func() error {
		batches[id[:strings.LastIndexByte(id, '-')]]++
		state[id] = s
		if (s == string(anpi.Sending)) != (owner != "") {
			return fmt.Errorf("delivery %s is %s with lease owner %q", id, s, owner)
		}
		return nil
	})
	require.NoError(t, err)
	for b, n := range batches {
		require.Equal(t, crashBatch, n, "enqueue batch %s is partly present (or duplicated)", b)
	}
	for b, n := range ackedD {
		require.Equal(t, n, batches[b], "acknowledged enqueue batch %s lost", b)
	}
	for id := range ackedC {
		require.Equal(t, string(anpi.Sent), state[id], "acknowledged completion of %s lost", id)
	}
	var dup int
	require.NoError(t, pgTx.QueryRow(ctx, st.sql("SELECT COUNT(*) - COUNT(DISTINCT (survey_id, user_id, channel, contact_id, round)) FROM {deliveries}")).Scan(&dup))
	require.Zero(t, dup, "no delivery key twice")
}
