package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestServerCrash crashes the PostgreSQL server itself (pg_ctl restart -m
// immediate: every server process quits at once, without a checkpoint,
// and the restart replays the WAL) while answers and enqueues are in
// flight, ANPI_PG_SERVER_KILLS times (default 5). After each restart every
// acknowledged answer and enqueue must be there, the counters must equal a
// recount and every enqueue batch must be whole.
//
// It needs the cluster of .ci/postgres.sh (ANPI_PG_DATA and ANPI_PG_BIN)
// and root, and runs while no other test of the package does (it is not
// parallel, so the parallel ones wait). On a cluster with fsync=off it
// shows that acknowledged commits survive a crash of the server, not of
// the machine.
func TestServerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the database server")
	}
	dbURL, schema := testSchema(t)
	data, bin := os.Getenv("ANPI_PG_DATA"), os.Getenv("ANPI_PG_BIN")
	if data == "" || bin == "" || os.Geteuid() != 0 {
		t.Skip("needs the throwaway cluster of .ci/postgres.sh (ANPI_PG_DATA, ANPI_PG_BIN) and root")
	}
	kills := 5
	if v := os.Getenv("ANPI_PG_SERVER_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "ANPI_PG_SERVER_KILLS")
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 2))
	ctx := t.Context()
	st, err := Open(ctx, dbURL, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	seedSurvey(t, st, crashUsers)

	var mu sync.Mutex
	ackedR := map[string]bool{}
	ackedD := map[string]int{}
	failures := 0
	for run := 1; run <= kills; run++ {
		wctx, stop := context.WithCancel(ctx)
		// Crash once a random number of answers were acknowledged.
		target := int64(100 + rnd.IntN(1500))
		var acks atomic.Int64
		reached := make(chan struct{})
		var wg sync.WaitGroup
		for g := range crashWriters {
			wg.Go(func() {
				for j := 0; wctx.Err() == nil; j++ {
					id := fmt.Sprintf("s%d-%d-%d", run, g, j)
					u := anpi.UserID(fmt.Sprintf("u%05d", (g*7919+j)%crashUsers))
					ok, err := st.RecordResponse(wctx, answer(id, u, t0.Add(time.Duration(j%7200)*time.Second), []string{"safe", "minor", "serious"}[j%3]))
					mu.Lock()
					if err == nil && ok {
						ackedR[id] = true
						if acks.Add(1) == target {
							close(reached)
						}
					} else if wctx.Err() == nil {
						failures++
					}
					mu.Unlock()
				}
			})
		}
		wg.Go(func() {
			for k := 0; wctx.Err() == nil; k++ {
				batch := fmt.Sprintf("e%d-%d", run, k)
				err := st.InTx(wctx, func(tx anpi.Tx) error {
					ds := make([]*anpi.Delivery, crashBatch)
					for j := range ds {
						ds[j] = &anpi.Delivery{ID: anpi.DeliveryID(fmt.Sprintf("%s-%d", batch, j)), SurveyID: "s", UserID: anpi.UserID(fmt.Sprintf("u%05d", (k+j)%crashUsers)),
							Channel: anpi.SMSChannel, Round: run*100000 + k, State: anpi.Queued, NextAttemptAt: t0}
					}
					_, err := tx.EnqueueDeliveries(wctx, ds)
					return err
				})
				mu.Lock()
				if err == nil {
					ackedD[batch] = crashBatch
				}
				mu.Unlock()
			}
		})
		select {
		case <-reached:
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		restartImmediate(t, bin, data)
		waitServer(t, st)
		stop()
		wg.Wait()
		verifyServerCrash(t, st, ackedR, ackedD)
	}
	t.Logf("survived %d server crashes; verified %d acknowledged answers and %d acknowledged enqueue batches; %d answers failed during the crashes (not acknowledged)",
		kills, len(ackedR), len(ackedD), failures)
}

// restartImmediate crashes the server and starts it again with the same
// settings (pg_ctl keeps them in postmaster.opts).
func restartImmediate(t *testing.T, bin, data string) {
	t.Helper()
	db := filepath.Join(data, "db")
	cmd := exec.Command("su", "postgres", "-c", fmt.Sprintf("%s -D '%s' -l '%s' -m immediate -w -t 60 restart",
		filepath.Join(bin, "pg_ctl"), db, filepath.Join(data, "log")))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "pg_ctl restart: %s", out)
}

// waitServer waits until the pool reaches the restarted server.
func waitServer(t *testing.T, st *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for {
		var one int
		err := st.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
		if err == nil {
			return
		}
		require.NoError(t, ctx.Err(), "the server did not come back: %v", err)
	}
}

func verifyServerCrash(t *testing.T, st *Store, ackedR map[string]bool, ackedD map[string]int) {
	t.Helper()
	ctx := t.Context()
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
		require.True(t, present[id], "acknowledged answer %s lost in the crash", id)
	}
	require.NoError(t, storetest.VerifyTally(ctx, newTx(st, pgTx, false), "s"))
	batches := map[string]int{}
	rows, err = pgTx.Query(ctx, st.sql("SELECT id FROM {deliveries} WHERE id LIKE 'e%'"))
	require.NoError(t, err)
	var id string
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
		batches[id[:strings.LastIndexByte(id, '-')]]++
		return nil
	})
	require.NoError(t, err)
	for b, n := range batches {
		require.Equal(t, crashBatch, n, "enqueue batch %s is partly present", b)
	}
	for b, n := range ackedD {
		require.Equal(t, n, batches[b], "acknowledged enqueue batch %s lost in the crash", b)
	}
}
