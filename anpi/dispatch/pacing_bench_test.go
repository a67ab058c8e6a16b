package dispatch_test

import (
	"fmt"
	"testing"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel/line"
	fakeline "github.com/anpikit/anpi/internal/fake/line"
	"github.com/anpikit/anpi/internal/pacebench"
)

// BenchmarkPacingLINE sends 8,000 deliveries through Run, the LINE adapter
// and the LINE fake enforcing LINE's documented 2,000 push requests/s
// (token bucket of one second's worth), with the dispatcher's default LINE
// limit (95 % of it). Each message carries its own answer link, so every
// one is a push. It reports, from the same run: the rate achieved overall
// and in steady state (after the dispatcher's initial burst), the limit,
// their ratio, and the 429s the fake answered.
func BenchmarkPacingLINE(b *testing.B) {
	def := dispatch.DefaultLimit(anpi.LINEChannel)
	at := def
	at.Rate = fakeline.PushRate
	unpaced := def
	unpaced.Rate, unpaced.Burst = 1e6, 1000
	for _, c := range []struct {
		name string
		lim  dispatch.Limit
	}{{"default", def}, {"at_limit", at}, {"unpaced", unpaced}} {
		b.Run(c.name, func(b *testing.B) {
			const n = 8000
			srv := fakeline.Start(&fakeline.Options{ChannelToken: "tok", CountOnly: true})
			b.Cleanup(srv.Close)
			snd, err := line.New(line.Config{ChannelAccessToken: "tok", Endpoint: srv.URL()})
			if err != nil {
				b.Fatal(err)
			}
			var tot pacebench.Result
			round := 0
			for b.Loop() {
				round++
				tot.Add(pacebench.Run(b, pacebench.Config{Sender: snd, Channel: anpi.LINEChannel, N: n, Limit: c.lim,
					Tag: fmt.Sprintf("r%d", round), To: func(i int) string { return fmt.Sprintf("U%032x", i) }}))
			}
			tot.Report(b, fakeline.PushRate)
			if got := srv.Requests("push") - srv.Recipients(); got != tot.Quota {
				b.Errorf("the fake refused %d pushes, the dispatcher counted %d 429s", got, tot.Quota)
			}
		})
	}
}
