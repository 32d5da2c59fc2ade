package e2e

import (
	"context"
	"testing"
	"time"
)

// BenchmarkPostfixOneConnection measures the latency of one message at a
// time on one SMTP connection through the real Postfix of the suite:
// without a milter, with authmilter on an inet socket (lnMTA) and on a unix
// socket (lnStrict). ns/op is the time from MAIL FROM to the 250 after the
// final dot, milter round trips included. The target is inet within
// 2x of unix; a milter that pays a delayed-ACK stall per stage shows up here
// as tens of milliseconds per message.
//
//	go test ./e2e -run '^$' -bench PostfixOneConnection -benchtime 200x
func BenchmarkPostfixOneConnection(b *testing.B) {
	env.need(b, true)
	for _, bc := range []struct{ name, listener string }{
		{"no-milter", lnNoMilter},
		{"inet", lnMTA},
		{"unix", lnStrict},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c, err := Dial(ctx, env.postfix.Addr(bc.listener))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello(clientIP, clientName, clientName); err != nil {
				b.Fatalf("%v\n%s", err, c.Transcript())
			}
			from := "bench@" + domPass
			rcpt := "bench-" + bc.name + "@rcpt.example"
			data := testMessage(from, rcpt, "latency", "One message at a time.\n")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ex, err := c.Send(from, []string{rcpt}, data)
				if err != nil || ex.Code != 250 {
					b.Fatalf("message %d: %v (%d %s)", i, err, ex.Code, ex.Reply)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/msg")
		})
	}
}
