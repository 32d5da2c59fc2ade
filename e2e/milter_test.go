package e2e

import (
	"bytes"
	"crypto"
	"net/mail"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// delivered sends m with swaks, requires it to be accepted and returns the
// message as the sink got it, with its header parsed.
func delivered(t *testing.T, m SwaksMessage) (*Delivered, mail.Header) {
	t.Helper()
	swaksOK(t, m)
	d, err := env.sink.WaitFor(ctxFor(t), m.To)
	if err != nil {
		t.Fatal(err)
	}
	h, err := d.Header()
	if err != nil {
		t.Fatalf("delivered message does not parse: %v\n%s", err, d.Data)
	}
	return d, h
}

// ourAR returns the one Authentication-Results field carrying our
// authserv-id; RFC 8601 §5 has the MTA remove any others that claim it,
// so there must be exactly one.
func ourAR(t *testing.T, h mail.Header) *AuthResults {
	t.Helper()
	var ours []*AuthResults
	for _, v := range h["Authentication-Results"] {
		ar, err := ParseAuthResults(v)
		if err != nil {
			t.Fatalf("Authentication-Results does not parse: %v", err)
		}
		if strings.EqualFold(ar.AuthservID, authservID) {
			ours = append(ours, ar)
		}
	}
	if len(ours) != 1 {
		t.Fatalf("want exactly one Authentication-Results for %s, got %d: %q", authservID, len(ours), h["Authentication-Results"])
	}
	return ours[0]
}

// spfMailFrom returns the SPF result for the MAIL FROM identity (the
// resinfo with smtp.mailfrom; a HELO check, if configured, has smtp.helo).
func spfMailFrom(t *testing.T, ar *AuthResults) MethodResult {
	t.Helper()
	var found []MethodResult
	for _, r := range ar.ByMethod("spf") {
		if _, ok := r.Props["smtp.mailfrom"]; ok {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one spf result with smtp.mailfrom, got %d: %+v", len(found), ar.Results)
	}
	return found[0]
}

// checkReceivedSPF checks the Received-SPF field (RFC 7208 §9.1): the result
// first, then the client-ip key-value pair.
func checkReceivedSPF(t *testing.T, h mail.Header, result, ip string) {
	t.Helper()
	fields := h["Received-Spf"]
	if len(fields) != 1 {
		t.Fatalf("want one Received-SPF field, got %q", fields)
	}
	v := fields[0]
	if f := strings.Fields(v); len(f) == 0 || !strings.EqualFold(f[0], result) {
		t.Errorf("Received-SPF %q: want result %q first", v, result)
	}
	if got := receivedSPFKey(v, "client-ip"); got != ip {
		t.Errorf("Received-SPF %q: client-ip=%q, want %q", v, got, ip)
	}
}

// receivedSPFKey returns the value of key in a Received-SPF field's
// key-value list (RFC 7208 §9.1: key = dot-atom / quoted-string; an IPv6
// address, with its colons, must be quoted), or "".
func receivedSPFKey(v, key string) string {
	// Skip the result and the comment: the pairs come after the last ')'.
	if i := strings.LastIndexByte(v, ')'); i >= 0 {
		v = v[i+1:]
	}
	for _, pair := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(pair, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), key) {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = strings.ReplaceAll(val[1:len(val)-1], `\"`, `"`)
		}
		return val
	}
	return ""
}

func TestSPFThroughPostfix(t *testing.T) {
	env.need(t, true)
	t.Parallel()
	for _, tc := range []struct {
		name       string
		listener   string
		clientAddr string // XCLIENT ADDR
		ip         string // as SPF and Received-SPF see it
		helo       string
		from       string // "" is the null sender
		want       string // spf result token
		mailfrom   string // smtp.mailfrom value
	}{
		{"pass", lnMTA, clientIP, clientIP, clientName, "user@" + domPass, "pass", "user@" + domPass},
		{"fail", lnMTA, clientIP, clientIP, clientName, "user@" + domFail, "fail", "user@" + domFail},
		{"softfail", lnMTA, clientIP, clientIP, clientName, "user@" + domSoftfail, "softfail", "user@" + domSoftfail},
		// The DNS server drops every query for the domain: the daemon's
		// 1 s timeout makes it a temporary error (RFC 7208 §2.6.6), and
		// on_dns_error = "accept" lets the message through, labelled.
		{"temperror", lnMTA, clientIP, clientIP, clientName, "user@" + domTimeout, "temperror", "user@" + domTimeout},
		// RFC 7208 §2.4: with a null reverse-path, check
		// postmaster@<HELO>.
		{"null sender", lnMTA, clientIP, clientIP, heloNull, "", "pass", "postmaster@" + heloNull},
		// Postfix sends an IPv6 client as "IPv6:2001:db8::25"; the record
		// authorizes it with ip6: (RFC 7208 §5.6).
		{"ipv6 client", lnMTA, "IPV6:" + clientIPv6, clientIPv6, clientName, "user@" + domIPv6, "pass", "user@" + domIPv6},
		// The on_dns_error = "tempfail" daemon, on a unix socket, lets
		// mail through when DNS works.
		{"pass via unix socket", lnStrict, clientIP, clientIP, clientName, "user@" + domPass, "pass", "user@" + domPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcpt := rcptFor(t)
			env.dumpOnFailure(t, rcpt)
			hdrFrom := tc.from
			if hdrFrom == "" {
				hdrFrom = "mailer-daemon@" + tc.helo
			}
			d, h := delivered(t, SwaksMessage{
				Server: env.postfix.Addr(tc.listener), ClientAddr: tc.clientAddr, ClientName: clientName,
				Helo: tc.helo, From: tc.from, To: rcpt,
				Data: testMessage(hdrFrom, rcpt, "spf "+tc.name, "SPF "+tc.name+".\n"),
			})
			r := spfMailFrom(t, ourAR(t, h))
			if r.Result != tc.want {
				t.Errorf("spf=%s, want spf=%s", r.Result, tc.want)
			}
			if got := r.Props["smtp.mailfrom"]; got != tc.mailfrom {
				t.Errorf("smtp.mailfrom=%s, want %s", got, tc.mailfrom)
			}
			checkReceivedSPF(t, h, tc.want, tc.ip)
			checkAboveReceived(t, d)
		})
	}
}

// checkAboveReceived checks that our fields sit above Postfix's Received
// field, as trace fields of this hop: RFC 7208 §9.1 (Received-SPF "SHOULD
// be prepended ... above the Received: field that is generated by the SMTP
// receiver") and RFC 8601 §5 (Authentication-Results is prepended like a
// trace field).
func checkAboveReceived(t *testing.T, d *Delivered) {
	t.Helper()
	var order []string
	for _, line := range strings.Split(string(d.Data), "\r\n") {
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		order = append(order, strings.ToLower(name))
	}
	received := -1
	for i, n := range order {
		if n == "received" {
			received = i
			break
		}
	}
	if received < 0 {
		t.Fatalf("no Received field in %v", order)
	}
	for _, want := range []string{"received-spf", "authentication-results"} {
		found := false
		for _, n := range order[:received] {
			found = found || n == want
		}
		if !found {
			t.Errorf("%s is not above Postfix's Received field; header order: %v", want, order)
		}
	}
}

// TestDNSTimeoutTempfail: with on_dns_error = "tempfail", a DNS timeout is
// answered 451 4.4.3 (RFC 3463: "Directory server failure") and nothing is
// queued or delivered.
func TestDNSTimeoutTempfail(t *testing.T) {
	env.need(t, true)
	t.Parallel()
	rcpt := rcptFor(t)
	env.dumpOnFailure(t, rcpt)
	res, err := Swaks(ctxFor(t), SwaksMessage{
		Server: env.postfix.Addr(lnStrict), ClientAddr: clientIP, ClientName: clientName,
		Helo: clientName, From: "user@" + domTimeout, To: rcpt,
		Data: testMessage("user@"+domTimeout, rcpt, "dns timeout", "Must not be delivered.\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Final()
	if f.Code != 451 || !strings.HasPrefix(f.Reply, "4.4.3") {
		t.Fatalf("want 451 4.4.3, got %d %s (to %q); transcript:\n%s", f.Code, f.Reply, f.Command, res.Transcript)
	}
	if q, err := env.postfix.Queue(); err != nil || strings.Contains(q, rcpt) {
		t.Errorf("queue after a tempfail (err %v): %s", err, q)
	}
	if got := env.sink.Find(rcpt); len(got) != 0 {
		t.Errorf("a tempfailed message was delivered: %s", env.sink.Dump(rcpt))
	}
}

// dkimSign signs msg (RFC 6376) for domain/selector with key.
func dkimSign(t *testing.T, msg []byte, domain, selector string, key crypto.Signer) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain:                 domain,
		Selector:               selector,
		Signer:                 key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatalf("dkim.Sign: %v", err)
	}
	return out.Bytes()
}

// dkimResult is what a test expects of one dkim resinfo.
type dkimResult struct{ result, d, s string }

func TestDKIMThroughPostfix(t *testing.T) {
	env.need(t, true)
	t.Parallel()
	for _, tc := range []struct {
		name string
		// build returns the message to send for rcpt.
		build func(t *testing.T, rcpt string) []byte
		want  []dkimResult
	}{
		{
			name: "ed25519 pass",
			build: func(t *testing.T, rcpt string) []byte {
				return dkimSign(t, testMessage("a@"+domDKIM, rcpt, "signed", "Signed body.\n"), domDKIM, "ed", env.keys.ed)
			},
			want: []dkimResult{{"pass", domDKIM, "ed"}},
		},
		{
			name: "rsa pass",
			build: func(t *testing.T, rcpt string) []byte {
				return dkimSign(t, testMessage("a@"+domDKIM, rcpt, "signed", "Signed body.\n"), domDKIM, "rsa", env.keys.rsa)
			},
			want: []dkimResult{{"pass", domDKIM, "rsa"}},
		},
		{
			// The body changes after signing, as a mailing list footer
			// would: the body hash no longer matches (RFC 6376 §3.7).
			name: "body altered in transit",
			build: func(t *testing.T, rcpt string) []byte {
				m := dkimSign(t, testMessage("a@"+domDKIM, rcpt, "signed", "Signed body.\n"), domDKIM, "ed", env.keys.ed)
				altered := bytes.Replace(m, []byte("Signed body."), []byte("Signed b0dy."), 1)
				if bytes.Equal(altered, m) {
					t.Fatal("the body text to alter is not in the signed message")
				}
				return altered
			},
			want: []dkimResult{{"fail", domDKIM, "ed"}},
		},
		{
			// Two signatures, two results (RFC 8601 §2.7.1), in the order
			// of the signatures in the header: the last added is on top.
			name: "two signatures",
			build: func(t *testing.T, rcpt string) []byte {
				m := dkimSign(t, testMessage("a@"+domDKIM, rcpt, "signed twice", "Signed body.\n"), domDKIM, "ed", env.keys.ed)
				return dkimSign(t, m, domDKIM2, "s2", env.keys.ed2)
			},
			want: []dkimResult{{"pass", domDKIM2, "s2"}, {"pass", domDKIM, "ed"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcpt := rcptFor(t)
			env.dumpOnFailure(t, rcpt)
			_, h := delivered(t, SwaksMessage{
				Server: env.postfix.Addr(lnMTA), ClientAddr: clientIP, ClientName: clientName,
				Helo: clientName, From: "a@" + domDKIM, To: rcpt, Data: tc.build(t, rcpt),
			})
			ar := ourAR(t, h)
			got := ar.ByMethod("dkim")
			if len(got) != len(tc.want) {
				t.Fatalf("want %d dkim results, got %d: %+v", len(tc.want), len(got), ar.Results)
			}
			// Match by header.d/header.s: RFC 8601 does not fix the order.
			for _, w := range tc.want {
				var match *MethodResult
				for i := range got {
					if got[i].Props["header.d"] == w.d && got[i].Props["header.s"] == w.s {
						match = &got[i]
					}
				}
				if match == nil {
					t.Errorf("no dkim result with header.d=%s header.s=%s in %+v", w.d, w.s, got)
					continue
				}
				if match.Result != w.result {
					t.Errorf("dkim=%s for header.d=%s header.s=%s, want dkim=%s", match.Result, w.d, w.s, w.result)
				}
			}
			if r := spfMailFrom(t, ar); r.Result != "pass" {
				t.Errorf("spf=%s, want pass", r.Result)
			}
		})
	}
}

// TestForgedAuthResults: a field claiming our authserv-id arrives with the
// message; RFC 8601 §5 has us remove it, while a field of another
// authserv-id stays untouched.
func TestForgedAuthResults(t *testing.T) {
	env.need(t, true)
	t.Parallel()
	for _, tc := range []struct{ name, forgedID string }{
		{"same case", authservID},
		// authserv-ids compare without regard to case, like the domain
		// names they usually are (RFC 8601 §2.5).
		{"other case", strings.ToUpper(authservID)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcpt := rcptFor(t)
			env.dumpOnFailure(t, rcpt)
			const foreign = "other.example; dkim=pass header.d=foreign.example header.s=x"
			// "forgedmark" appears only in the fields that must go.
			msg := testMessage("user@"+domFail, rcpt, "authentication results", "Forged results.\n",
				"Authentication-Results: "+tc.forgedID+"; spf=pass smtp.mailfrom=forgedmark@"+domFail,
				"Authentication-Results: "+foreign,
				"Authentication-Results: "+tc.forgedID+";\r\n\tdkim=pass header.d=forgedmark.example header.s=x")
			d, h := delivered(t, SwaksMessage{
				Server: env.postfix.Addr(lnMTA), ClientAddr: clientIP, ClientName: clientName,
				Helo: clientName, From: "user@" + domFail, To: rcpt, Data: msg,
			})
			r := spfMailFrom(t, ourAR(t, h))
			if r.Result != "fail" || r.Props["smtp.mailfrom"] != "user@"+domFail {
				t.Errorf("spf=%s smtp.mailfrom=%s, want the real result fail for user@%s", r.Result, r.Props["smtp.mailfrom"], domFail)
			}
			if bytes.Contains(d.Data, []byte("forgedmark")) {
				t.Errorf("a forged field survived:\n%s", d.Data)
			}
			var foreignSeen int
			for _, v := range h["Authentication-Results"] {
				if v == foreign {
					foreignSeen++
				}
			}
			if foreignSeen != 1 {
				t.Errorf("the other.example field must stay exactly once, found %d times in %q", foreignSeen, h["Authentication-Results"])
			}
		})
	}
}

// TestTwoMessagesOneSession: two transactions on one SMTP connection (one
// milter connection) get independent results: nothing of the first leaks
// into the second.
func TestTwoMessagesOneSession(t *testing.T) {
	env.need(t, true)
	t.Parallel()
	base := rcptFor(t)
	env.dumpOnFailure(t, "")
	c, err := Dial(ctxFor(t), env.postfix.Addr(lnMTA))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(clientIP, clientName, clientName); err != nil {
		t.Fatalf("%v\n%s", err, c.Transcript())
	}
	msgs := []struct {
		from, rcpt, spf string
		signed          bool
	}{
		{"a@" + domDKIM, "1." + base, "pass", true},
		{"b@" + domFail, "2." + base, "fail", false},
	}
	for _, m := range msgs {
		data := testMessage(m.from, m.rcpt, "session "+m.rcpt, "Message for "+m.rcpt+".\n")
		if m.signed {
			data = dkimSign(t, data, domDKIM, "ed", env.keys.ed)
		}
		ex, err := c.Send(m.from, []string{m.rcpt}, data)
		if err != nil || ex.Code != 250 {
			t.Fatalf("send to %s: %v (%d %s)\n%s", m.rcpt, err, ex.Code, ex.Reply, c.Transcript())
		}
	}
	if err := c.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}
	for _, m := range msgs {
		d, err := env.sink.WaitFor(ctxFor(t), m.rcpt)
		if err != nil {
			t.Fatal(err)
		}
		h, err := d.Header()
		if err != nil {
			t.Fatal(err)
		}
		ar := ourAR(t, h)
		r := spfMailFrom(t, ar)
		if r.Result != m.spf || r.Props["smtp.mailfrom"] != m.from {
			t.Errorf("%s: spf=%s smtp.mailfrom=%s, want spf=%s smtp.mailfrom=%s", m.rcpt, r.Result, r.Props["smtp.mailfrom"], m.spf, m.from)
		}
		dk := ar.ByMethod("dkim")
		switch {
		case m.signed && (len(dk) != 1 || dk[0].Result != "pass" || dk[0].Props["header.d"] != domDKIM):
			t.Errorf("%s: want one dkim=pass header.d=%s, got %+v", m.rcpt, domDKIM, dk)
		case !m.signed && len(dk) > 0 && !(len(dk) == 1 && dk[0].Result == "none"):
			t.Errorf("%s: unsigned, yet dkim results %+v (leaked from the first message?)", m.rcpt, dk)
		}
		checkReceivedSPF(t, h, m.spf, clientIP)
	}
}

// TestMalformedFrom: a From field that is not an address list (RFC 5322
// §3.6.2) must not stop the daemon; the envelope checks still run. Without
// a usable author domain DMARC cannot be evaluated (RFC 7489 §6.6.1):
// malformed_from = "reject" (lnMTA, the default) refuses the message with
// 550 5.7.1, "accept" (lnLenient) delivers it with dmarc=permerror. A field
// that is broken but names a domain is judged on that domain (here one
// without a DMARC record: dmarc=none) under either setting.
func TestMalformedFrom(t *testing.T) {
	env.need(t, true)
	t.Parallel()
	for _, tc := range []struct{ name, from, dmarc string }{
		{"garbage", "From: <<<not an address@@", "permerror"},
		{"empty", "From:", "permerror"},
		{"two addresses without comma", "From: a@" + domPass + " b@" + domPass, "none"},
		{"unterminated quote", "From: \"Someone <a@" + domPass + ">", "none"},
	} {
		for _, ln := range []string{lnMTA, lnLenient} {
			t.Run(tc.name+"/"+ln, func(t *testing.T) {
				t.Parallel()
				rcpt := rcptFor(t)
				env.dumpOnFailure(t, rcpt)
				msg := testMessage("x", rcpt, "malformed from", "Body.\n")
				msg = bytes.Replace(msg, []byte("From: x\r\n"), []byte(tc.from+"\r\n"), 1)
				m := SwaksMessage{
					Server: env.postfix.Addr(ln), ClientAddr: clientIP, ClientName: clientName,
					Helo: clientName, From: "user@" + domPass, To: rcpt, Data: msg,
				}
				defer func() {
					for _, d := range []*Daemon{env.accept, env.lenient} {
						if !d.Running() {
							t.Errorf("authmilter died:\n%s", tail(d.Stderr(), 8000))
						}
					}
				}()
				if tc.dmarc == "permerror" && ln == lnMTA {
					res, err := Swaks(ctxFor(t), m)
					if err != nil {
						t.Fatal(err)
					}
					if f := res.Final(); f.Command != "<message>" || f.Code != 550 || !strings.HasPrefix(f.Reply, "5.7.1 ") {
						t.Fatalf("want 550 5.7.1 at the end of data, got %d %s to %q; transcript:\n%s", f.Code, f.Reply, f.Command, res.Transcript)
					}
					return
				}
				_, h := delivered(t, m)
				ar := ourAR(t, h)
				if r := spfMailFrom(t, ar); r.Result != "pass" {
					t.Errorf("spf=%s, want pass", r.Result)
				}
				if dm := ar.ByMethod("dmarc"); len(dm) != 1 || dm[0].Result != tc.dmarc {
					t.Errorf("want dmarc=%s, got %+v", tc.dmarc, dm)
				}
			})
		}
	}
}
