package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// rcptFor gives each test (and subtest) a recipient of its own, so that the
// tests can share one Postfix and one sink. Subtest names may contain any
// character; the local part keeps letters, digits and "." (from "/"), and
// turns runs of anything else into one "-", so that it stays a dot-atom
// (RFC 5321 §4.1.2) that every SMTP client and server takes unquoted.
func rcptFor(t *testing.T) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(t.Name()) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case c == '/':
			b.WriteByte('.')
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-.") + "@rcpt.example"
}

// testMessage builds a plain message with CRLF line ends.
func testMessage(from, to, subject, body string, extra ...string) []byte {
	var b bytes.Buffer
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Subject: %s\r\n", subject)
	b.WriteString("Date: Tue, 01 Dec 2026 01:00:00 +0000\r\n")
	fmt.Fprintf(&b, "Message-ID: <%d.%s>\r\n", time.Now().UnixNano(), strings.ReplaceAll(to, "@", ".at."))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return b.Bytes()
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// swaksOK sends m and requires the message to be accepted (250 after the
// data).
func swaksOK(t *testing.T, m SwaksMessage) *SwaksResult {
	t.Helper()
	res, err := Swaks(ctxFor(t), m)
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Final(); f.Command != "<message>" || f.Code != 250 {
		t.Fatalf("message not accepted: last reply %d %s to %q (swaks exit %d); transcript:\n%s",
			f.Code, f.Reply, f.Command, res.ExitCode, res.Transcript)
	}
	return res
}

func TestHarnessDeliversWithoutMilter(t *testing.T) {
	env.need(t, false)
	t.Parallel()
	for _, tc := range []struct {
		name, xclientAddr, received string
	}{
		{"ipv4", clientIP, clientName + " [" + clientIP + "]"},
		{"ipv6", "IPV6:" + clientIPv6, clientName + " [IPv6:" + clientIPv6 + "]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcpt := rcptFor(t)
			env.dumpOnFailure(t, rcpt)
			body := "First line.\n.A line starting with a dot, dot-stuffed on the wire.\n"
			msg := testMessage("sender@"+domPass, rcpt, "harness check", body)
			swaksOK(t, SwaksMessage{
				Server: env.postfix.Addr(lnNoMilter), ClientAddr: tc.xclientAddr, ClientName: clientName,
				Helo: clientName, From: "sender@" + domPass, To: rcpt, Data: msg,
			})
			d, err := env.sink.WaitFor(ctxFor(t), rcpt)
			if err != nil {
				t.Fatal(err)
			}
			if d.From != "sender@"+domPass {
				t.Errorf("MAIL FROM at the sink = %q, want %q", d.From, "sender@"+domPass)
			}
			if want := strings.ReplaceAll(body, "\n", "\r\n"); string(d.Body()) != want {
				t.Errorf("body changed in transit:\n got %q\nwant %q", d.Body(), want)
			}
			h, err := d.Header()
			if err != nil {
				t.Fatal(err)
			}
			// Postfix's Received line shows the XCLIENT identity, which is
			// what a milter is told too.
			recv := h.Get("Received")
			for _, want := range []string{"from " + clientName, tc.received, "by mx.test"} {
				if !strings.Contains(recv, want) {
					t.Errorf("Received %q lacks %q", recv, want)
				}
			}
			if ar := h["Authentication-Results"]; len(ar) != 0 {
				t.Errorf("no milter on this listener, yet Authentication-Results: %q", ar)
			}
		})
	}
}

// TestHarnessMilterDown shows contrib's milter_default_action = tempfail at
// work: with the milter unreachable, Postfix refuses at MAIL FROM with 451
// and keeps nothing.
func TestHarnessMilterDown(t *testing.T) {
	env.need(t, false)
	t.Parallel()
	rcpt := rcptFor(t)
	env.dumpOnFailure(t, rcpt)
	res, err := Swaks(ctxFor(t), SwaksMessage{
		Server: env.postfix.Addr(lnDown), ClientAddr: clientIP, ClientName: clientName,
		Helo: clientName, From: "sender@" + domPass, To: rcpt,
		Data: testMessage("sender@"+domPass, rcpt, "milter down", "Never delivered.\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Final()
	if !hasPrefixFold(f.Command, "MAIL FROM:") || f.Code != 451 || !strings.HasPrefix(f.Reply, "4.7.1") {
		t.Fatalf("want 451 4.7.1 at MAIL FROM, got %d %s to %q; transcript:\n%s", f.Code, f.Reply, f.Command, res.Transcript)
	}
	q, err := env.postfix.Queue()
	if err != nil {
		t.Fatalf("postqueue: %v: %s", err, q)
	}
	if strings.Contains(q, rcpt) {
		t.Errorf("a refused message is in the queue: %s", q)
	}
	if got := env.sink.Find(rcpt); len(got) != 0 {
		t.Errorf("a refused message reached the sink: %s", env.sink.Dump(rcpt))
	}
}

// TestHarnessClientTwoMessages checks our own SMTP client: one session,
// one XCLIENT, two transactions, both delivered intact.
func TestHarnessClientTwoMessages(t *testing.T) {
	env.need(t, false)
	t.Parallel()
	rcpt1, rcpt2 := rcptFor(t)+".1", rcptFor(t)+".2"
	env.dumpOnFailure(t, "")
	c, err := Dial(ctxFor(t), env.postfix.Addr(lnNoMilter))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(clientIP, clientName, clientName); err != nil {
		t.Fatalf("%v\n%s", err, c.Transcript())
	}
	for _, rcpt := range []string{rcpt1, rcpt2} {
		msg := testMessage("a@"+domPass, rcpt, "client "+rcpt, "Body for "+rcpt+"\n..two dots\n")
		ex, err := c.Send("a@"+domPass, []string{rcpt}, msg)
		if err != nil || ex.Code != 250 {
			t.Fatalf("send to %s: %v (%d %s)\n%s", rcpt, err, ex.Code, ex.Reply, c.Transcript())
		}
	}
	if err := c.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}
	for _, rcpt := range []string{rcpt1, rcpt2} {
		d, err := env.sink.WaitFor(ctxFor(t), rcpt)
		if err != nil {
			t.Fatal(err)
		}
		if want := "Body for " + rcpt + "\r\n..two dots\r\n"; string(d.Body()) != want {
			t.Errorf("%s: body %q, want %q", rcpt, d.Body(), want)
		}
	}
}

// TestContribKnownToPostfix makes Postfix itself judge the shipped snippet:
// postconf warns about every parameter name it does not know, so a typo in
// contrib/postfix/main.cf fails here.
func TestContribKnownToPostfix(t *testing.T) {
	env.need(t, false)
	t.Parallel()
	cmd := exec.Command(postconfCmd, "-c", env.postfix.Dir()+"/conf", "-n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("postconf -n: %v: %s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("postconf warns about the generated main.cf:\n%s", stderr.String())
	}
	for _, want := range []string{"milter_default_action = tempfail", "milter_protocol = 6",
		"smtpd_milters = " + env.acceptCfg.Listen, "non_smtpd_milters = " + env.acceptCfg.Listen} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("postconf -n lacks %q:\n%s", want, out)
		}
	}
	cmd = exec.Command(postconfCmd, "-c", env.postfix.Dir()+"/conf", "-M")
	stderr.Reset()
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil || stderr.Len() != 0 {
		t.Fatalf("postconf -M: %v: %s", err, stderr.String())
	}
	sub := env.postfix.Addr(lnSubmission)
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, sub+" ") {
			line = l
		}
	}
	if !strings.Contains(line, "milter_macro_daemon_name=ORIGINATING") {
		t.Errorf("submission listener %s lacks the contrib option: %q", sub, line)
	}
}
