package e2e_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/memchan"
	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/store/sqlite"
)

// benchUsers is the size of the directory of the pipeline benchmark: one
// person per delivery.
const benchUsers = 100_000

// benchMargin is what the benchmark leaves of go test's -timeout: a run
// that would go past it fails with the figures reached instead of being
// killed by go test.
const benchMargin = time.Minute

// benchDeadline returns when the benchmark must be done: go test's
// -timeout (default 10 minutes) from now, less benchMargin.
func benchDeadline() time.Time {
	d := 10 * time.Minute
	if f := flag.Lookup("test.timeout"); f != nil {
		if g, ok := f.Value.(flag.Getter); ok {
			if t, ok := g.Get().(time.Duration); ok {
				d = t
			}
		}
	}
	if d <= 0 {
		d = 24 * time.Hour
	}
	return time.Now().Add(d - benchMargin)
}

// nationalVXSE53 writes a national-scale 震源・震度情報 (VXSE53) from the
// shape of the JMA XML spec: 47 prefectures of 4 細分区域 each (188 areas,
// codes "110" to "573"), 10 cities per area and 2 stations per city, every
// area at 震度3 or more (3, 4, 5弱 … 7 in turn). It returns the document
// and its area codes.
func nationalVXSE53() ([]byte, []string) {
	ints := []string{"3", "4", "5-", "5+", "6-", "6+", "7"}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/" xmlns:jmx="http://xml.kishou.go.jp/jmaxml1/">
<Control>
<Title>震源・震度に関する情報</Title>
<DateTime>2030-09-01T03:10:00Z</DateTime>
<Status>通常</Status>
<EditorialOffice>気象庁本庁</EditorialOffice>
<PublishingOffice>気象庁</PublishingOffice>
</Control>
<Head xmlns="http://xml.kishou.go.jp/jmaxml1/informationBasis1/">
<Title>震源・震度情報</Title>
<ReportDateTime>2030-09-01T12:10:00+09:00</ReportDateTime>
<TargetDateTime>2030-09-01T12:10:00+09:00</TargetDateTime>
<EventID>20300901120200</EventID>
<InfoType>発表</InfoType>
<Serial>1</Serial>
<InfoKind>地震情報</InfoKind>
<InfoKindVersion>1.0_1</InfoKindVersion>
<Headline><Text>１日１２時０２分ころ、地震による強い揺れを感じました。</Text></Headline>
</Head>
<Body xmlns="http://xml.kishou.go.jp/jmaxml1/body/seismology1/" xmlns:jmx_eb="http://xml.kishou.go.jp/jmaxml1/elementBasis1/">
<Earthquake>
<OriginTime>2030-09-01T12:02:00+09:00</OriginTime>
<ArrivalTime>2030-09-01T12:02:00+09:00</ArrivalTime>
<Hypocenter><Area><Name>架空の震央</Name><Code type="震央地名">999</Code>
<jmx_eb:Coordinate description="北緯３５．０度　東経１３８．０度　深さ　３０ｋｍ" datum="日本測地系">+35.0+138.0-30000/</jmx_eb:Coordinate></Area></Hypocenter>
<jmx_eb:Magnitude type="Mj" description="Ｍ８．５">8.5</jmx_eb:Magnitude>
</Earthquake>
<Intensity>
<Observation>
<CodeDefine>
<Type xpath="Pref/Code">地震情報／都道府県等</Type>
<Type xpath="Pref/Area/Code">地震情報／細分区域</Type>
<Type xpath="Pref/Area/City/Code">気象・地震・火山情報／市町村等</Type>
<Type xpath="Pref/Area/City/IntensityStation/Code">震度観測点</Type>
</CodeDefine>
<MaxInt>7</MaxInt>
`)
	var areas []string
	for p := 1; p <= 47; p++ {
		fmt.Fprintf(&b, "<Pref><Name>県%02d</Name><Code>%02d</Code><MaxInt>7</MaxInt>\n", p, p)
		for a := range 4 {
			code := fmt.Sprintf("%03d", 100+10*p+a)
			areas = append(areas, code)
			in := ints[(p+a)%len(ints)]
			fmt.Fprintf(&b, "<Area><Name>地域%s</Name><Code>%s</Code><MaxInt>%s</MaxInt>\n", code, code, in)
			for c := range 10 {
				fmt.Fprintf(&b, "<City><Name>市%s%d</Name><Code>%02d%d%d%02d0</Code><MaxInt>%s</MaxInt>\n", code, c, p, a, c, c, in)
				for s := range 2 {
					fmt.Fprintf(&b, "<IntensityStation><Name>観測点%s%d%d＊</Name><Code>%02d%d%d%02d%d</Code><Int>%s</Int></IntensityStation>\n",
						code, c, s, p, a, c, c, s, in)
				}
				b.WriteString("</City>\n")
			}
			b.WriteString("</Area>\n")
		}
		b.WriteString("</Pref>\n")
	}
	b.WriteString(`</Observation>
</Intensity>
<Comments><ForecastComment codeType="固定付加文"><Text>この地震による津波の心配はありません。</Text><Code>0215</Code></ForecastComment></Comments>
</Body>
</Report>
`)
	return b.Bytes(), areas
}

// benchRule reaches every area of nationalVXSE53.
const benchRule = `{"id":"quake-3","name":"震度3以上","kind":"earthquake","earthquake":{"threshold":"3"}}`

// benchChannels are the channels of the benchmark's contacts, in turn: one
// contact per person.
var benchChannels = []struct {
	ch   anpi.Channel
	kind anpi.ContactKind
}{
	{anpi.FCMChannel, anpi.FCMContact},
	{anpi.APNsChannel, anpi.APNsContact},
	{anpi.LINEChannel, anpi.LINEContact},
	{anpi.EmailChannel, anpi.EmailContact},
}

// openBenchStore opens a SQLite store with its default durability
// (synchronous=FULL) and sealed contacts in a fresh directory.
func openBenchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	key := bytes.Repeat([]byte{7}, 32)
	sealer, err := anpi.NewAESSealer("k1", map[string][]byte{"k1": key}, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "anpi.db"), &sqlite.Options{Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// seedBench writes n users spread over areas, one contact each, and the
// rule, in transactions of 10,000 users.
func seedBench(b *testing.B, st anpi.Store, areas []string, n int) {
	b.Helper()
	ctx := context.Background()
	const batch = 10_000
	for lo := 0; lo < n; lo += batch {
		err := st.InTx(ctx, func(tx anpi.Tx) error {
			for i := lo; i < min(lo+batch, n); i++ {
				id := anpi.UserID(fmt.Sprintf("u%06d", i))
				r, err := anpi.ParseRegion("quake:" + areas[i%len(areas)])
				if err != nil {
					return err
				}
				if err := tx.CreateUser(ctx, &anpi.User{ID: id, EmployeeCode: fmt.Sprintf("E%06d", i), Name: fmt.Sprintf("社員 %06d", i),
					Regions: []anpi.Region{r}, Status: anpi.Active, Locale: anpi.Japanese}); err != nil {
					return err
				}
				bc := benchChannels[i%len(benchChannels)]
				if err := tx.PutContact(ctx, &anpi.Contact{ID: anpi.ContactID(fmt.Sprintf("c%06d", i)), UserID: id, Kind: bc.kind,
					Scope: anpi.PrivateScope, Address: benchAddress(bc.kind, i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := st.PutRule(ctx, &anpi.RuleRecord{ID: "quake-3", Name: "震度3以上", Enabled: true, Spec: []byte(benchRule)}); err != nil {
		b.Fatal(err)
	}
}

func benchAddress(k anpi.ContactKind, i int) string {
	switch k {
	case anpi.EmailContact:
		return fmt.Sprintf("u%06d@example.jp", i)
	case anpi.LINEContact:
		return fmt.Sprintf("U%032x", i)
	case anpi.APNsContact:
		return fmt.Sprintf("%064x", i)
	}
	return fmt.Sprintf("fcm-token-%06d", i)
}

// handOff wraps a memchan sender and notes when messages are handed to it:
// the first, and the moment the count reaches want.
type handOff struct {
	*memchan.Sender
	p *progress
}

// progress is shared by the senders of one run.
type progress struct {
	want  int64
	n     atomic.Int64
	first atomic.Int64 // UnixNano of the first hand-off
	once  sync.Once
	done  chan struct{}
	at    time.Time // when n reached want; read after done
}

func (p *progress) add(k int) {
	if k == 0 {
		return
	}
	now := time.Now()
	p.first.CompareAndSwap(0, now.UnixNano())
	if p.n.Add(int64(k)) >= p.want {
		p.once.Do(func() { p.at = now; close(p.done) })
	}
}

// Send implements channel.Sender.
func (h handOff) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	h.p.add(1)
	return h.Sender.Send(ctx, m)
}

// SendBatch implements channel.BatchSender.
func (h handOff) SendBatch(ctx context.Context, ms []*channel.Message) ([]channel.Result, error) {
	h.p.add(len(ms))
	return h.Sender.SendBatch(ctx, ms)
}

// waitUntil polls cond every few milliseconds until it holds or timeout
// passes, and reports whether it held.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// BenchmarkVXSE53To100kDeliveries measures the whole auto-send pipeline at
// national scale: a VXSE53 reaching 188 areas, 100,000 people in them with
// one contact each (FCM, APNs, LINE, email in turn), SQLite with its
// default durability (synchronous=FULL, sealed contacts), and a running
// dispatcher with in-memory senders and no rate limits (the channels'
// default batches and concurrency), the Service as its Renderer and
// handing it the fan-out's deliveries (dispatch.Handoff), as the reference
// server wires them. The clock
// starts when HandleDocument is given the bytes; it reports
//
//	first_ms    until the first message is handed to a sender (target ≤ 50 ms)
//	all_s       until all 100,000 are handed to senders (target ≤ 1 s); the
//	            deliveries are durable in the outbox from HandleDocument's
//	            return (ns/op is this figure too)
//	handle_ms   HandleDocument alone: parse, rules, survey, recipients, the
//	            100,000 deliveries and their answer tokens, in chunks
//	dispatch_s  from HandleDocument's return until all are handed to senders
//	recorded_s  until every result is recorded (all deliveries Sent)
//	handed/s    100,000 / all_s
//
// and baselines measured in the same run, on a store of their own with the
// same directory: parse_ms, jma.Parse of the same bytes;
// floor_enqueue_ms, the bare store writing 100,000 recipients,
// deliveries and answer tokens in one transaction (what HandleDocument,
// which writes each delivery's link with it, cannot go below);
// floor_dispatch_s, the same dispatcher claiming those 100,000 and handing
// them to the senders with a renderer that reads and writes nothing (what
// dispatching by claims costs without the Service's Render: the path of
// deliveries not handed over).
//
// The baselines run after the pipeline, on its store (its deliveries are
// all sent by then): the same directory, the same file.
//
// Each op seeds a directory of 100,000 people (not timed, about ten
// seconds) and, on the shared 2-core machine it was written on, runs for
// minutes: run it with -benchtime 1x. It stops a minute before go test's
// -timeout: the pipeline then fails with the figures it reached (logged as
// it goes), and a baseline that does not finish is left out of the report,
// with what it reached in the log. The figures vary with the load other
// processes put on the machine.
func BenchmarkVXSE53To100kDeliveries(b *testing.B) {
	if testing.Short() {
		b.Skip("skipped under -short: seeds 100,000 users into SQLite twice and runs for minutes")
	}
	doc, areas := nationalVXSE53()
	deadline := benchDeadline()
	var firstSum, allSum, handleSum, dispatchSum, recordedSum, parseSum, floorSum, floorDispSum time.Duration
	n, floorDispN := 0, 0
	for b.Loop() {
		b.StopTimer()
		st := openBenchStore(b)
		seedBench(b, st, areas, benchUsers)
		first, all, handle, recorded := runPipeline(b, st, doc, deadline)
		parse, floor, floorDisp, ok := baselines(b, st, doc, deadline)
		b.StartTimer()
		firstSum += first
		allSum += all
		handleSum += handle
		dispatchSum += all - handle
		recordedSum += recorded
		parseSum += parse
		floorSum += floor
		if ok {
			floorDispSum += floorDisp
			floorDispN++
		}
		n++
	}
	avg := func(d time.Duration) time.Duration { return d / time.Duration(n) }
	b.ReportMetric(float64(avg(firstSum).Microseconds())/1e3, "first_ms")
	b.ReportMetric(avg(allSum).Seconds(), "all_s")
	b.ReportMetric(float64(avg(handleSum).Microseconds())/1e3, "handle_ms")
	b.ReportMetric(avg(dispatchSum).Seconds(), "dispatch_s")
	b.ReportMetric(avg(recordedSum).Seconds(), "recorded_s")
	b.ReportMetric(float64(avg(parseSum).Microseconds())/1e3, "parse_ms")
	b.ReportMetric(float64(avg(floorSum).Microseconds())/1e3, "floor_enqueue_ms")
	if floorDispN == n {
		b.ReportMetric(avg(floorDispSum).Seconds(), "floor_dispatch_s")
	}
	b.ReportMetric(float64(benchUsers)/avg(allSum).Seconds(), "handed/s")
	b.ReportMetric(float64(avg(allSum).Nanoseconds()), "ns/op")
}

// runPipeline runs one document through the Service and a running
// dispatcher over st, a store holding the directory, and fails when it is
// not done by deadline.
func runPipeline(b *testing.B, st anpi.Store, doc []byte, deadline time.Time) (first, all, handle, recorded time.Duration) {
	b.Helper()
	// The dispatcher is woken after each commit that enqueued (the
	// fan-out commits in chunks), as a server wires it.
	// Its deliveries are handed to the dispatcher as their chunk commits
	// (Handoff), as the reference server wires it.
	var disp *dispatch.Dispatcher
	h := dispatch.NewHandoff()
	svc, err := anpi.New(st, &anpi.Options{BaseURL: "https://a.example", OnEnqueue: func() { disp.Notify() }, Handoff: h})
	if err != nil {
		b.Fatal(err)
	}
	// A server is running before the quake: Run preloads the rules and
	// the directory as it starts (timed apart, not part of the figures).
	p0 := time.Now()
	if err := svc.Preload(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("Preload (at the server's start): %s", time.Since(p0))
	p := &progress{want: benchUsers, done: make(chan struct{})}
	var mems []*memchan.Sender
	disp, mems = benchDispatcher(b, st, svc, p, h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- disp.Run(ctx) }()
	defer func() {
		cancel()
		<-stopped
	}()

	start := time.Now()
	out, err := svc.HandleDocument(ctx, doc)
	handle = time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	disp.Notify()
	if len(out.Effects) != 1 || out.Effects[0].Queued != benchUsers {
		b.Fatalf("HandleDocument: want one send of %d deliveries, got %+v", benchUsers, out.Effects)
	}
	sv := out.Effects[0].Survey
	b.Logf("HandleDocument: %s (%d handed by then)", handle, p.n.Load())
	select {
	case <-p.done:
	case <-time.After(time.Until(deadline)):
		n, el := p.n.Load(), time.Since(start)
		b.Fatalf("out of time: %s after HandleDocument's start (HandleDocument %s; first message after %s) only %d of %d "+
			"messages were handed to senders: %.0f/s after HandleDocument", el, handle,
			time.Unix(0, p.first.Load()).Sub(start), n, benchUsers, float64(n)/(el-handle).Seconds())
	}
	first = time.Unix(0, p.first.Load()).Sub(start)
	all = p.at.Sub(start)
	b.Logf("first message handed after %s, all %d after %s", first, benchUsers, all)
	if !waitUntil(time.Until(deadline), func() bool { return sentTotal(disp) >= benchUsers }) {
		b.Fatalf("out of time: results of %d deliveries not recorded after %s: %+v", benchUsers, time.Since(start), disp.Totals())
	}
	recorded = time.Since(start)
	checkSent(b, st, sv, mems)
	return first, all, handle, recorded
}

// benchDispatcher returns a dispatcher over st with in-memory senders for
// the benchmark's channels, reporting to p, and no rate limit: the batch
// sizes and concurrency are the channels' defaults (dispatch.DefaultLimit),
// the poll interval the default too (Notify wakes it).
func benchDispatcher(b *testing.B, st anpi.Store, r dispatch.Renderer, p *progress, h *dispatch.Handoff) (*dispatch.Dispatcher, []*memchan.Sender) {
	b.Helper()
	senders := map[anpi.Channel]channel.Sender{}
	limits := map[anpi.Channel]dispatch.Limit{}
	var mems []*memchan.Sender
	for _, bc := range benchChannels {
		m := memchan.New(&memchan.Options{Kind: channel.Kind(bc.ch)})
		mems = append(mems, m)
		senders[bc.ch] = handOff{Sender: m, p: p}
		limits[bc.ch] = dispatch.Limit{Rate: 1e9, Burst: 1e9}
	}
	disp, err := dispatch.New(st, &dispatch.Options{Senders: senders, Renderer: r, Limits: limits, Owner: "bench", Handoff: h})
	if err != nil {
		b.Fatal(err)
	}
	return disp, mems
}

// sentTotal returns how many results of sends the dispatcher recorded.
func sentTotal(d *dispatch.Dispatcher) int {
	var n int
	for _, s := range d.Totals() {
		n += s.Sent
	}
	return n
}

// checkSent requires every delivery of sv to be recorded Sent and every
// person to have been sent exactly one message.
func checkSent(b *testing.B, st anpi.Store, sv anpi.SurveyID, mems []*memchan.Sender) {
	b.Helper()
	counts, err := st.CountDeliveries(context.Background(), sv)
	if err != nil {
		b.Fatal(err)
	}
	if counts[anpi.Sent] != benchUsers {
		b.Fatalf("deliveries by state: %v, want %d sent", counts, benchUsers)
	}
	seen := make(map[string]bool, benchUsers)
	for _, m := range mems {
		for _, s := range m.Sent() {
			if seen[s.Message.IdempotencyKey] {
				b.Fatalf("delivery %s sent twice", s.Message.IdempotencyKey)
			}
			seen[s.Message.IdempotencyKey] = true
		}
	}
	if len(seen) != benchUsers {
		b.Fatalf("%d messages sent, want %d", len(seen), benchUsers)
	}
}

// baselines measures jma.Parse of doc, then, on st (the pipeline's store,
// its deliveries all sent), the bare store writing a new survey's 100,000
// recipients and deliveries in one transaction and the same dispatcher
// handing them to the senders with a renderer that reads and writes
// nothing. ok is false when that dispatch was not done by deadline.
func baselines(b *testing.B, st anpi.Store, doc []byte, deadline time.Time) (parse, floor, floorDispatch time.Duration, ok bool) {
	b.Helper()
	start := time.Now()
	if _, err := jma.Parse(doc); err != nil {
		b.Fatal(err)
	}
	parse = time.Since(start)

	ctx := context.Background()
	users, err := st.ListUsers(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	sv := &anpi.Survey{ID: "floor", Kind: anpi.AutoSurvey, Title: "floor", Form: anpi.DefaultForm(), Status: anpi.Open,
		CreatedAt: now, StartedAt: now}
	rs := make([]anpi.Recipient, len(users))
	ds := make([]*anpi.Delivery, len(users))
	ts := make([]*anpi.AnswerToken, len(users))
	for i, u := range users {
		_, h, err := anpi.NewLocatedAnswerToken(nil, now, uint32(i)) // as the Service makes them
		if err != nil {
			b.Fatal(err)
		}
		ts[i] = &anpi.AnswerToken{Hash: h, SurveyID: sv.ID, UserID: u.ID, CreatedAt: now}
		rs[i] = anpi.NewRecipient(sv.ID, u, nil)
		bc := benchChannels[i%len(benchChannels)]
		d := &anpi.Delivery{SurveyID: sv.ID, UserID: u.ID, Channel: bc.ch, ContactID: anpi.ContactID(fmt.Sprintf("c%06d", i)),
			State: anpi.Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		d.ID = anpi.DeliveryIDFor(d.Key())
		ds[i] = d
	}
	start = time.Now()
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		if err := tx.CreateSurvey(ctx, sv); err != nil {
			return err
		}
		if _, err := tx.AddRecipients(ctx, sv.ID, rs); err != nil {
			return err
		}
		if _, err := tx.EnqueueDeliveries(ctx, ds); err != nil {
			return err
		}
		return tx.PutAnswerTokens(ctx, ts)
	})
	floor = time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("baseline: %d recipients, deliveries and answer tokens in one transaction: %s", benchUsers, floor)

	p := &progress{want: benchUsers, done: make(chan struct{})}
	render := dispatch.RendererFunc(func(_ context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
		return &channel.Message{To: string(d.ContactID), Subject: "【安否確認】", Text: "安否を回答してください。"}, d.ContactID, nil
	})
	disp, mems := benchDispatcher(b, st, render, p, nil)
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	start = time.Now()
	go func() { stopped <- disp.Run(rctx) }()
	defer func() {
		cancel()
		<-stopped
	}()
	select {
	case <-p.done:
	case <-time.After(time.Until(deadline)):
		n, el := p.n.Load(), time.Since(start)
		b.Logf("baseline left out, out of time: after %s only %d of %d messages were handed to senders: %.0f/s",
			el, n, benchUsers, float64(n)/el.Seconds())
		return parse, floor, 0, false
	}
	floorDispatch = p.at.Sub(start)
	b.Logf("baseline: dispatch of %d without rendering: %s", benchUsers, floorDispatch)
	if !waitUntil(time.Until(deadline), func() bool { return sentTotal(disp) >= benchUsers }) {
		b.Logf("baseline left out, out of time: results not recorded after %s: %+v", time.Since(start), disp.Totals())
		return parse, floor, 0, false
	}
	checkSent(b, st, sv.ID, mems)
	return parse, floor, floorDispatch, true
}
