package milter

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"
	"go.uber.org/zap/zaptest"

	"github.com/authmilter/authmilter/policy"
)

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu       sync.Mutex
	verdicts []*policy.Verdict
	elapsed  []time.Duration
	stages   []string
}

func (r *recorder) Message(v *policy.Verdict, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verdicts = append(r.verdicts, v)
	r.elapsed = append(r.elapsed, d)
}

func (r *recorder) Stage(stage string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		stage += " (negative)"
	}
	r.stages = append(r.stages, stage)
}

// TestObserver checks that every callback is reported with its stage name
// and every verdict once, and that Serving follows Serve and Shutdown.
func TestObserver(t *testing.T) {
	t.Parallel()
	z, _ := testZone(t)
	eng, err := policy.New(policy.Options{AuthservID: "mx.test"}, z)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv := New(eng, zaptest.NewLogger(t), Options{IOTimeout: 10 * time.Second, Observer: rec})
	if srv.Serving() {
		t.Error("Serving before Serve")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	m := dial(t, ln.Addr().String())
	m.connect("192.0.2.10", "mail.example.org")
	if !srv.Serving() {
		t.Error("not Serving while a connection is served")
	}
	// Two header fields and a 10-byte body in 7-byte chunks: two "header"
	// and two "body" stages.
	_, act := m.message("Q1", "alice@example.org", []string{"From: alice@example.org", "Subject: hi"}, "0123456789")
	if act.Code != gomilter.ActContinue {
		t.Fatalf("action %+v", act)
	}
	_, act = m.message("Q2", "<>", nil, "")
	if act.Code != gomilter.ActContinue {
		t.Fatalf("second message: action %+v", act)
	}

	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if srv.Serving() {
		t.Error("Serving after Shutdown")
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []string{
		StageConnect, StageHelo,
		StageMail, StageRcpt, StageHeader, StageHeader, StageEOH, StageBody, StageBody, StageEOM,
		StageMail, StageRcpt, StageEOH, StageEOM,
	}
	if !slices.Equal(rec.stages, want) {
		t.Errorf("stages\n got %q\nwant %q", rec.stages, want)
	}
	if len(rec.verdicts) != 2 {
		t.Fatalf("%d verdicts, want 2", len(rec.verdicts))
	}
	if v := rec.verdicts[0]; v.Action != policy.Accept || v.SPF.Result != "pass" || v.Direction() != "inbound" {
		t.Errorf("first verdict: %s spf=%s %s", v.Action, v.SPF.Result, v.Direction())
	}
	for i, d := range rec.elapsed {
		// From MAIL FROM, so never shorter than the policy's own time.
		if d < rec.verdicts[i].Elapsed {
			t.Errorf("message %d: elapsed %v shorter than the verdict's %v", i, d, rec.verdicts[i].Elapsed)
		}
	}
}
