package policy

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net"
	"net/netip"
	"strings"
	"testing"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/authmilter/authmilter/policy/authres"
	"github.com/authmilter/authmilter/resolver"
)

// dmarcZone is the DNS of the DMARC table below.
func dmarcZone(t *testing.T) (*resolver.Fake, ed25519.PrivateKey) {
	t.Helper()
	z := resolver.NewFake()
	// example.org: SPF for 192.0.2.0/24, p=reject, subdomains quarantine,
	// non-existent subdomains reject.
	z.AddTXT("example.org", "v=spf1 ip4:192.0.2.0/24 -all")
	z.AddTXT("_dmarc.example.org", "v=DMARC1; p=reject; sp=quarantine; np=reject")
	z.AddA("example.org", "192.0.2.1")
	z.AddA("www.example.org", "192.0.2.1")
	z.AddTXT("news.example.org", "v=spf1 -all")
	// lax.example: p=quarantine, relaxed; half.example: pct=50.
	z.AddTXT("_dmarc.lax.example", "v=DMARC1; p=quarantine")
	z.AddA("lax.example", "192.0.2.2")
	z.AddTXT("_dmarc.half.example", "v=DMARC1; p=reject; pct=50")
	z.AddA("half.example", "192.0.2.3")
	z.AddTXT("_dmarc.open.example", "v=DMARC1; p=none")
	z.AddA("open.example", "192.0.2.4")
	z.Timeout["_dmarc.slow.example"] = true
	z.AddA("slow.example", "192.0.2.5")
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 7
	key := ed25519.NewKeyFromSeed(seed)
	z.AddTXT("sel._domainkey.example.org", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)))
	return z, key
}

// feed splits a raw CRLF message into header fields and body and runs it
// through m, as the milter does.
func feed(t *testing.T, m *Message, raw string) *Verdict {
	t.Helper()
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	var name, value string
	flush := func() *Verdict {
		if name == "" {
			return nil
		}
		v := m.Header(name, strings.TrimPrefix(value, " "))
		name = ""
		return v
	}
	for _, l := range strings.Split(head, "\r\n") {
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			value += "\r\n" + l
			continue
		}
		if v := flush(); v != nil {
			return v
		}
		name, value, _ = strings.Cut(l, ":")
	}
	if v := flush(); v != nil {
		return v
	}
	m.EndHeaders()
	if err := m.Body([]byte(body)); err != nil {
		t.Fatal(err)
	}
	return m.Finish()
}

func message(headers ...string) string {
	return strings.Join(append(headers, "Subject: test", "Message-ID: <1@x>"), "\r\n") + "\r\n\r\nHello.\r\n"
}

func signed(t *testing.T, key ed25519.PrivateKey, raw string) string {
	t.Helper()
	var b strings.Builder
	if err := msgdkim.Sign(&b, strings.NewReader(raw), &msgdkim.SignOptions{Domain: "example.org", Selector: "sel", Signer: key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func dmarcEntry(t *testing.T, v *Verdict) authres.Result {
	t.Helper()
	for _, r := range ar(t, v) {
		if r.Method == "dmarc" {
			return r
		}
	}
	t.Fatalf("no dmarc result in %+v", v.Add)
	return authres.Result{}
}

// TestDMARCLocalPolicy is the table of DMARC outcomes and of what local
// policy does with them.
func TestDMARCLocalPolicy(t *testing.T) {
	t.Parallel()
	z, key := dmarcZone(t)
	good := net.ParseIP("192.0.2.10")
	bad := net.ParseIP("198.51.100.7")
	forwarder := net.ParseIP("203.0.113.5")
	internal := net.ParseIP("10.1.2.3")
	type tc struct {
		name     string
		opts     func(*DMARCOptions)
		env      Envelope
		msg      string
		action   Action
		reply    string // prefix
		result   string // dmarc=
		applied  string // policy.applied ("" = no policy properties)
		override string
		from     string
	}
	reject := func(o *DMARCOptions) { o.Enforce = true }
	cases := []tc{
		{name: "pass via SPF only", env: Envelope{ClientIP: good, Helo: "mx.example.org", MailFrom: "a@example.org"},
			msg: message("From: a@example.org"), action: Accept, result: "pass", applied: "none", from: "example.org"},
		{name: "pass via DKIM only", env: Envelope{ClientIP: bad, Helo: "mx.other.example", MailFrom: "bounce@other.example"},
			msg: signed(t, key, message("From: a@example.org")), action: Accept, result: "pass", applied: "none", from: "example.org"},
		{name: "p=reject enforced", opts: reject, env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@example.org"},
			msg: message("From: a@example.org"), action: Reject, reply: "550 5.7.1 ", result: "fail", applied: "reject", from: "example.org"},
		{name: "p=reject report-only", env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@example.org"},
			msg: message("From: a@example.org"), action: Accept, result: "fail", applied: "none", override: "local_policy", from: "example.org"},
		{name: "subdomain gets sp=quarantine, held", opts: reject, env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@www.example.org"},
			msg: message("From: a@www.example.org"), action: Quarantine, result: "fail", applied: "quarantine", from: "www.example.org"},
		{name: "quarantine as a header", opts: func(o *DMARCOptions) { o.Enforce = true; o.Quarantine = QuarantineHeader },
			env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@lax.example"},
			msg: message("From: a@lax.example"), action: Accept, result: "fail", applied: "quarantine", from: "lax.example"},
		{name: "non-existent subdomain gets np=reject", opts: reject, env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@ghost.example.org"},
			msg: message("From: a@ghost.example.org"), action: Reject, reply: "550 5.7.1 ", result: "fail", applied: "reject", from: "ghost.example.org"},
		{name: "trusted forwarder not rejected", opts: reject, env: Envelope{ClientIP: forwarder, Helo: "fwd", MailFrom: "a@example.org"},
			msg: message("From: a@example.org"), action: Accept, result: "fail", applied: "none", override: "trusted_forwarder", from: "example.org"},
		{name: "internal network not rejected", opts: reject, env: Envelope{ClientIP: internal, Helo: "pc", MailFrom: "a@example.org"},
			msg: message("From: a@example.org"), action: Accept, result: "fail", applied: "none", override: "local_policy", from: "example.org"},
		{name: "authenticated not rejected", opts: reject, env: Envelope{ClientIP: bad, Helo: "pc", MailFrom: "a@example.org", AuthUser: "alice"},
			msg: message("From: a@example.org"), action: Accept, result: "fail", applied: "none", override: "local_policy", from: "example.org"},
		{name: "mailing list exempt when configured", opts: func(o *DMARCOptions) { o.Enforce = true; o.ExemptMailingLists = true },
			env: Envelope{ClientIP: bad, Helo: "lists", MailFrom: "list-bounces@lists.example"},
			msg: message("From: a@example.org", "List-Id: <talk.lists.example>"), action: Accept, result: "fail", applied: "none", override: "mailing_list", from: "example.org"},
		{name: "mailing list enforced by default", opts: reject,
			env: Envelope{ClientIP: bad, Helo: "lists", MailFrom: "list-bounces@lists.example"},
			msg: message("From: a@example.org", "List-Id: <talk.lists.example>"), action: Reject, reply: "550 5.7.1 ", result: "fail", applied: "reject", from: "example.org"},
		{name: "pct=50 sampled out: reject becomes quarantine", opts: func(o *DMARCOptions) { o.Enforce = true; o.Rand = func() int { return 70 } },
			env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@half.example"},
			msg: message("From: a@half.example"), action: Quarantine, result: "fail", applied: "quarantine", override: "sampled_out", from: "half.example"},
		{name: "pct=50 sampled in", opts: func(o *DMARCOptions) { o.Enforce = true; o.Rand = func() int { return 20 } },
			env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@half.example"},
			msg: message("From: a@half.example"), action: Reject, reply: "550 5.7.1 ", result: "fail", applied: "reject", from: "half.example"},
		{name: "no policy", opts: reject, env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@nodmarc.example"},
			msg: message("From: a@nodmarc.example"), action: Accept, result: "none", from: "nodmarc.example"},
		{name: "two From fields rejected", opts: reject, env: Envelope{ClientIP: good, Helo: "x", MailFrom: "a@example.org"},
			msg: message("From: a@example.org", "From: b@open.example"), action: Reject, reply: "550 5.7.1 Multiple", result: "permerror", from: "example.org"},
		{name: "two authors, strictest wins", opts: func(o *DMARCOptions) { o.Enforce = true; o.RejectMultipleAuthors = false },
			env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@open.example"},
			msg: message("From: a@open.example, b@example.org"), action: Reject, reply: "550 5.7.1 ", result: "fail", applied: "reject", from: "example.org"},
		{name: "From without a domain rejected", opts: reject, env: Envelope{ClientIP: good, Helo: "x", MailFrom: "a@example.org"},
			msg: message("From: undisclosed"), action: Reject, reply: "550 5.7.1 From", result: "permerror"},
		{name: "From without a domain accepted when configured", opts: func(o *DMARCOptions) { o.Enforce = true; o.RejectMalformedFrom = false },
			env: Envelope{ClientIP: good, Helo: "x", MailFrom: "a@example.org"},
			msg: message("From: undisclosed"), action: Accept, result: "permerror"},
		{name: "policy lookup temperror accepted", opts: reject, env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@slow.example"},
			msg: message("From: a@slow.example"), action: Accept, result: "temperror", from: "slow.example"},
		{name: "report-only never tempfails", opts: func(o *DMARCOptions) { o.OnDNSError = DNSErrorTempfail },
			env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@slow.example"},
			msg: message("From: a@slow.example"), action: Accept, result: "temperror", from: "slow.example"},
		{name: "policy lookup temperror tempfails when configured", opts: func(o *DMARCOptions) { o.Enforce = true; o.OnDNSError = DNSErrorTempfail },
			env: Envelope{ClientIP: bad, Helo: "x", MailFrom: "a@slow.example"},
			msg: message("From: a@slow.example"), action: Tempfail, reply: "451 4.4.3 ", result: "temperror", from: "slow.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{AuthservID: "mx.test",
				InternalNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
				DMARC: DMARCOptions{TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
					RejectMultipleAuthors: true, RejectMalformedFrom: true, Rand: func() int { return 0 }}}
			if c.opts != nil {
				c.opts(&opts.DMARC)
			}
			e, err := New(opts, z)
			if err != nil {
				t.Fatal(err)
			}
			v := feed(t, e.Begin(context.Background(), c.env), c.msg)
			if v.Action != c.action || !strings.HasPrefix(v.Reply.String(), c.reply) {
				t.Errorf("action %s %q, want %s %q (%v)", v.Action, v.Reply, c.action, c.reply, v.Reasons)
			}
			if v.Action == Reject || v.Action == Tempfail {
				return // nothing is written into a refused message
			}
			d := dmarcEntry(t, v)
			props := map[string]string{}
			for _, p := range d.Props {
				props[p.Type+"."+p.Name] = p.Value
			}
			if d.Value != c.result || props["policy.applied"] != c.applied || props["policy.override"] != c.override || props["header.from"] != c.from {
				t.Errorf("dmarc=%s %v (%s), want dmarc=%s applied=%q override=%q from=%q", d.Value, props, d.Reason, c.result, c.applied, c.override, c.from)
			}
			if c.action == Quarantine && v.QuarantineReason == "" {
				t.Error("quarantine without a reason")
			}
			hasQH := false
			for _, f := range v.Add {
				hasQH = hasQH || f.Name == "X-Authmilter-Quarantine"
			}
			if hasQH != (c.applied == "quarantine" && c.action == Accept) {
				t.Errorf("quarantine header present=%v: %+v", hasQH, v.Add)
			}
			if v.Report == nil || v.Report.DMARCResult != c.result {
				t.Errorf("report record %+v", v.Report)
			}
		})
	}
}

// A trusted relay's message is judged on the client the relay recorded,
// and without such a record it is never an SPF pass.
func TestTrustedRelay(t *testing.T) {
	t.Parallel()
	z, _ := dmarcZone(t)
	relay := net.ParseIP("10.9.9.9")
	for _, c := range []struct {
		name     string
		tempfail bool
		received string
		action   Action
		spf      string
	}{
		{"original client authorized", false, "from mx.example.org (mx.example.org [192.0.2.10]) by border.mx.test (Postfix) with ESMTP id X; Tue, 1 Dec 2026 00:00:00 +0000", Accept, "pass"},
		{"original client not authorized", false, "from evil.example (evil.example [198.51.100.7]) by border.mx.test (Postfix) with ESMTP id X; Tue, 1 Dec 2026 00:00:00 +0000", Reject, "fail"},
		{"no Received: tempfail", true, "", Tempfail, "none"},
		{"no Received: spf none, DMARC fails", false, "", Reject, "none"},
		{"made on the relay itself (cron, bounces): internal", true, "by border.mx.test (Postfix, from userid 0) id X; Tue, 1 Dec 2026 00:00:00 +0000", Accept, ""},
		{"one of our hosts behind the relay: internal", false, "from pc.corp (pc.corp [10.1.1.1]) by border.mx.test (Postfix) with ESMTP id X; Tue, 1 Dec 2026 00:00:00 +0000", Accept, ""},
		{"the relay's content filter hop is walked past", false, "from localhost (localhost [127.0.0.1]) by border.mx.test (Postfix) with ESMTP id Y; Tue, 1 Dec 2026 00:00:01 +0000\x00" +
			"from mx.example.org (mx.example.org [192.0.2.10]) by border.mx.test (Postfix) with ESMTP id X; Tue, 1 Dec 2026 00:00:00 +0000", Accept, "pass"},
		{"only loopback hops: never a pass", false, "from localhost (localhost [127.0.0.1]) by border.mx.test (Postfix) with ESMTP id Y; Tue, 1 Dec 2026 00:00:01 +0000", Reject, "none"},
		{"a sender's own Received: by is not the relay's", false, "by evil.example (Postfix, from userid 0); Tue, 1 Dec 2026 00:00:00 +0000", Reject, "none"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, err := New(Options{AuthservID: "mx.test", InternalNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")},
				DMARC: DMARCOptions{Enforce: true,
					TrustedRelays: []netip.Prefix{netip.MustParsePrefix("10.9.9.0/24")}, TempfailRelayWithoutReceived: c.tempfail}}, z)
			if err != nil {
				t.Fatal(err)
			}
			hs := []string{"From: a@example.org"}
			if c.received != "" {
				// Several Received fields are separated by NUL in the table.
				var rs []string
				for _, r := range strings.Split(c.received, "\x00") {
					rs = append(rs, "Received: "+r)
				}
				hs = append(rs, hs...)
			}
			v := feed(t, e.Begin(context.Background(), Envelope{ClientIP: relay, Helo: "border.mx.test", MailFrom: "a@example.org"}), message(hs...))
			if v.Action != c.action {
				t.Errorf("action %s, want %s (%v)", v.Action, c.action, v.Reasons)
			}
			if string(v.SPF.Result) != c.spf {
				t.Errorf("spf %q, want %q", v.SPF.Result, c.spf)
			}
			if want := map[bool]Class{true: Internal, false: Relay}[c.spf == ""]; v.Class != want {
				t.Errorf("class %s, want %s", v.Class, want)
			}
		})
	}
}
