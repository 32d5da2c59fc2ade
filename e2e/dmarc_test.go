package e2e

import (
	"bytes"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/resolver"
)

// DMARC through the real Postfix (RFC 7489, RFC 9989): each case sends one
// message with swaks and checks what a mail administrator would see: the
// SMTP reply, the header of the delivered message, or the hold queue.

// Clients and names of the DMARC cases, besides clientIP (authorized by
// every SPF record below). Addresses are from the documentation ranges
// (RFC 5737) and outside internal_networks, so that the mail is judged.
const (
	// strangerIP is authorized by no SPF record: SPF fails wherever a
	// record exists.
	strangerIP = "192.0.2.66"
	// forwarderIP is in the daemons' trusted_forwarders.
	forwarderIP = "198.51.100.7"
	// relayIP is in the daemons' trusted_relays: a border MX of ours.
	relayIP   = "203.0.113.25"
	relayName = "border.mx.test"
	// internalIP is inside internal_networks (127.0.0.0/8); Postfix takes
	// it in XCLIENT like any other address.
	internalIP = "127.0.0.5"

	// dmarcRejectText is the daemons' reject_text.
	dmarcRejectText = "Rejected by the DMARC policy of the From domain (e2e)"
	// quarantineHeader is the lenient daemon's quarantine_header.
	quarantineHeader = "X-E2E-Quarantine"

	// dmReject publishes p=reject, authorizes clientIP (and relayIP) by
	// SPF, and signs
	// with the ed25519 key under selector "dm"; dmRejectSub is a host
	// below it without a record of its own.
	dmReject    = "dmarc-reject.example"
	dmRejectSub = "news.dmarc-reject.example"
	// dmQuarantine publishes p=quarantine and authorizes clientIP.
	dmQuarantine = "dmarc-quarantine.example"
	// dmOrg publishes p=reject; dmOrgDeep, two labels below it, exists
	// (it has an address) but has no record, nor has anything between:
	// only the RFC 9989 §4.10 tree walk finds the policy.
	dmOrg     = "org-walk.example"
	dmOrgDeep = "mail.sub.org-walk.example"
	// dmSP publishes "p=none; sp=reject; np=quarantine": its own mail,
	// an existing subdomain's and a non-existent subdomain's each get a
	// different policy (RFC 9989 §4.7).
	dmSP      = "dmarc-sp.example"
	dmSPChild = "child.dmarc-sp.example" // exists: has an A record
	dmSPGhost = "ghost.dmarc-sp.example" // no A, AAAA or MX: NXDOMAIN
	// dmTimeout's policy lookup (_dmarc.dmarc-timeout.example) times out;
	// its SPF record does not authorize clientIP.
	dmTimeout = "dmarc-timeout.example"
	// dmNoRecord publishes no DMARC record at all.
	dmNoRecord = "dmarc-norecord.example"
	// dmPct0 publishes "p=reject; pct=0" (RFC 7489 §6.6.4: the policy
	// applies to no message, the next less strict one to all), dmTestMode
	// "p=reject; t=y" (RFC 9989 §4.7: the same one-step downgrade) and
	// dmTestModeQ "p=quarantine; t=y" (down to none).
	dmPct0      = "dmarc-pct0.example"
	dmTestMode  = "dmarc-testmode.example"
	dmTestModeQ = "dmarc-testmode-q.example"
)

// addDMARCZone adds the DMARC cases' records to the zone of buildZone.
func addDMARCZone(z *resolver.Fake, k *zoneKeys) error {
	spfOK := "v=spf1 ip4:" + clientIP + " -all"
	for _, d := range []string{dmQuarantine, dmNoRecord} {
		z.AddTXT(d, spfOK)
	}
	// dmarc-reject.example also authorizes our border MX (its mail is
	// also sent through us, say): SPF on the relay's own address would
	// pass, which is exactly what judging a trusted relay's mail must not
	// do.
	z.AddTXT(dmReject, "v=spf1 ip4:"+clientIP+" ip4:"+relayIP+" -all")
	z.AddTXT("_dmarc."+dmReject, "v=DMARC1; p=reject")
	z.AddTXT("_dmarc."+dmQuarantine, "v=DMARC1; p=quarantine")
	z.AddTXT("_dmarc."+dmOrg, "v=DMARC1; p=reject")
	z.AddTXT("_dmarc."+dmSP, "v=DMARC1; p=none; sp=reject; np=quarantine")
	z.AddTXT("_dmarc."+dmPct0, "v=DMARC1; p=reject; pct=0")
	z.AddTXT("_dmarc."+dmTestMode, "v=DMARC1; p=reject; t=y")
	z.AddTXT("_dmarc."+dmTestModeQ, "v=DMARC1; p=quarantine; t=y")
	z.AddTXT(dmTimeout, "v=spf1 ip4:192.0.2.99 -all")
	z.Timeout["_dmarc."+dmTimeout] = true
	// Every From domain exists except dmSPGhost, so that only that case
	// meets the non-existent-domain policy (np=).
	for _, d := range []string{dmReject, dmRejectSub, dmQuarantine, dmOrg, dmOrgDeep, dmSP, dmSPChild, dmTimeout, dmNoRecord,
		dmPct0, dmTestMode, dmTestModeQ} {
		z.AddA(d, "192.0.2.200")
	}
	rec, err := dkimKeyRecord(k.ed)
	if err != nil {
		return err
	}
	z.AddTXT("dm._domainkey."+dmReject, rec)
	return nil
}

// outcome is what Postfix does with a message.
type outcome int

const (
	outDelivered   outcome = iota // 250, then at the sink
	outRejected                   // 550 at the end of data
	outTempfailed                 // 451 at the end of data
	outHeld                       // 250, then in the hold queue
	outQuarantined                // 250, at the sink with the quarantine header
)

// dmarcCase is one message and what must become of it.
type dmarcCase struct {
	name     string
	listener string
	client   string // XCLIENT ADDR; clientIP when empty
	helo     string // XCLIENT HELO and EHLO; clientName when empty
	mailFrom string // "" is the null sender
	// build returns the message for rcpt; testMessage from the
	// mailFrom address when nil.
	build func(t *testing.T, rcpt string) []byte

	want outcome
	// reply is the enhanced status code and text that must follow the
	// reply code of a refusal; "" checks only the code.
	enhanced, text string

	// For a message that arrives (delivered, held or quarantined): the
	// dmarc entry of our Authentication-Results.
	result    string // pass, fail, none, temperror, permerror
	fromDom   string // header.from
	requested string // policy.dmarc; "" requires the property absent
	applied   string // policy.applied; "" requires it absent or "none"
	override  string // policy.override; "" requires it absent
	// comment is the comment after the result ("p=reject dis=NONE"),
	// checked when not empty.
	comment string
	// spf, when set, is the MAIL FROM SPF result, and spfIP the client-ip
	// Received-SPF must name.
	spf, spfIP string
}

// run sends the case's message and checks its outcome.
func (c dmarcCase) run(t *testing.T) {
	t.Helper()
	rcpt := rcptFor(t)
	env.dumpOnFailure(t, rcpt)
	client := c.client
	if client == "" {
		client = clientIP
	}
	helo := c.helo
	if helo == "" {
		helo = clientName
	}
	var data []byte
	if c.build != nil {
		data = c.build(t, rcpt)
	} else {
		data = testMessage(c.mailFrom, rcpt, "dmarc "+c.name, "DMARC case "+c.name+".\n")
	}
	res, err := Swaks(ctxFor(t), SwaksMessage{
		Server: env.postfix.Addr(c.listener), ClientAddr: client, ClientName: clientName,
		Helo: helo, From: c.mailFrom, To: rcpt, Data: data,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Final()
	switch c.want {
	case outRejected, outTempfailed:
		code := 550
		if c.want == outTempfailed {
			code = 451
		}
		want := strings.TrimSpace(c.enhanced + " " + c.text)
		if f.Command != "<message>" || f.Code != code || !strings.HasPrefix(f.Reply, want) {
			t.Fatalf("want %d %s at the end of data, got %d %s to %q; transcript:\n%s",
				code, want, f.Code, f.Reply, f.Command, res.Transcript)
		}
		if q, err := env.postfix.QueuedFor(rcpt); err != nil || len(q) != 0 {
			t.Errorf("a refused message is in the queue (err %v): %+v", err, q)
		}
		if got := env.sink.Find(rcpt); len(got) != 0 {
			t.Errorf("a refused message reached the sink: %s", env.sink.Dump(rcpt))
		}
		return
	}
	if f.Command != "<message>" || f.Code != 250 {
		t.Fatalf("message not accepted: last reply %d %s to %q; transcript:\n%s", f.Code, f.Reply, f.Command, res.Transcript)
	}

	var h mail.Header
	if c.want == outHeld {
		q, err := env.postfix.QueuedFor(rcpt)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) != 1 || q[0].QueueName != "hold" {
			t.Fatalf("want the message in the hold queue, postqueue -j shows %+v", q)
		}
		if h, err = env.postfix.QueuedHeader(q[0].QueueID); err != nil {
			t.Fatal(err)
		}
		// It stays held: the sink never sees it. (The hold queue is not
		// scanned by the queue manager, so this cannot change later.)
		if got := env.sink.Find(rcpt); len(got) != 0 {
			t.Errorf("a held message reached the sink: %s", env.sink.Dump(rcpt))
		}
	} else {
		// The milter's quarantine action takes effect before Postfix
		// answers 250: a message held by mistake is in the hold queue
		// now, and waiting for it at the sink would only time out.
		if q, err := env.postfix.QueuedFor(rcpt); err != nil || (len(q) == 1 && q[0].QueueName == "hold") {
			t.Fatalf("want the message delivered, postqueue -j shows it held (err %v): %+v", err, q)
		}
		d, err := env.sink.WaitFor(ctxFor(t), rcpt)
		if err != nil {
			t.Fatal(err)
		}
		if h, err = d.Header(); err != nil {
			t.Fatalf("delivered message does not parse: %v\n%s", err, d.Data)
		}
	}
	c.checkHeader(t, h)
}

// checkHeader checks the DMARC (and SPF) results in h.
func (c dmarcCase) checkHeader(t *testing.T, h mail.Header) {
	t.Helper()
	ar := ourAR(t, h)
	dm := ar.ByMethod("dmarc")
	if len(dm) != 1 {
		t.Fatalf("want one dmarc result, got %d: %+v", len(dm), ar.Results)
	}
	r := dm[0]
	if r.Result != c.result {
		t.Errorf("dmarc=%s, want dmarc=%s (reason %q)", r.Result, c.result, r.Reason)
	}
	if got := r.Props["header.from"]; got != c.fromDom {
		t.Errorf("header.from=%q, want %q", got, c.fromDom)
	}
	checkProp := func(name, want string, noneIsAbsent bool) {
		t.Helper()
		got, ok := r.Props[name]
		switch {
		case want != "" && got != want:
			t.Errorf("%s=%q, want %q", name, got, want)
		case want == "" && ok && !(noneIsAbsent && got == "none"):
			t.Errorf("%s=%q, want no such property", name, got)
		}
	}
	checkProp("policy.dmarc", c.requested, false)
	checkProp("policy.applied", c.applied, true)
	checkProp("policy.override", c.override, false)
	if c.comment != "" {
		raw := ourARRaw(t, h)
		if got := resultComment(raw, "dmarc"); got != c.comment {
			t.Errorf("comment after dmarc=%s is %q, want %q in %q", r.Result, got, c.comment, raw)
		}
	}
	if c.spf != "" {
		if s := spfMailFrom(t, ar); s.Result != c.spf {
			t.Errorf("spf=%s, want spf=%s", s.Result, c.spf)
		}
		checkReceivedSPF(t, h, c.spf, c.spfIP)
	}
	q := h[textproto.CanonicalMIMEHeaderKey(quarantineHeader)]
	switch {
	case c.want == outQuarantined && len(q) != 1:
		t.Errorf("want one %s field, got %q", quarantineHeader, q)
	case c.want == outQuarantined:
		// Its value is an Authentication-Results-style record of the
		// DMARC outcome.
		if qa, err := ParseAuthResults(q[0]); err != nil || len(qa.ByMethod("dmarc")) != 1 || qa.ByMethod("dmarc")[0].Result != "fail" {
			t.Errorf("%s: %q does not record dmarc=fail (%v)", quarantineHeader, q[0], err)
		}
	case len(q) != 0:
		t.Errorf("not quarantined, yet %s: %q", quarantineHeader, q)
	}
}

// ourARRaw returns the unparsed value of our Authentication-Results field.
func ourARRaw(t *testing.T, h mail.Header) string {
	t.Helper()
	for _, v := range h["Authentication-Results"] {
		if ar, err := ParseAuthResults(v); err == nil && strings.EqualFold(ar.AuthservID, authservID) {
			return v
		}
	}
	t.Fatalf("no Authentication-Results for %s in %q", authservID, h["Authentication-Results"])
	return ""
}

// resultComment returns the comment (RFC 5322 §3.2.2, without its
// parentheses) right after "method=result" in an unfolded
// Authentication-Results value, or "".
func resultComment(raw, method string) string {
	i := strings.Index(strings.ToLower(raw), method+"=")
	if i < 0 {
		return ""
	}
	rest := raw[i+len(method)+1:]
	// Skip the result word.
	j := strings.IndexAny(rest, " \t(;")
	if j < 0 {
		return ""
	}
	rest = strings.TrimLeft(rest[j:], " \t")
	if !strings.HasPrefix(rest, "(") {
		return ""
	}
	depth := 0
	for k := 0; k < len(rest); k++ {
		switch rest[k] {
		case '\\':
			k++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return rest[1:k]
			}
		}
	}
	return ""
}

// signed builds a message From from, signed (relaxed/relaxed) by domain
// with the ed25519 key and selector.
func signed(from, domain, selector string, extra ...string) func(t *testing.T, rcpt string) []byte {
	return func(t *testing.T, rcpt string) []byte {
		m := testMessage(from, rcpt, "signed by "+domain, "A signed DMARC case.\n", extra...)
		key := env.keys.ed
		if domain == domDKIM2 {
			key = env.keys.ed2
		}
		return dkimSign(t, m, domain, selector, key)
	}
}

// unsigned builds a message with the given From field value and extra
// header fields (above From).
func unsigned(from string, extra ...string) func(t *testing.T, rcpt string) []byte {
	return func(t *testing.T, rcpt string) []byte {
		return testMessage(from, rcpt, "dmarc", "An unsigned DMARC case.\n", extra...)
	}
}

// relayReceived is the Received field our border MX (relayIP) writes for
// a message from ip, in Postfix's form (IPv6 as "IPv6:2001:db8::25").
func relayReceived(ip, helo string) string {
	if strings.Contains(ip, ":") {
		ip = "IPv6:" + ip
	}
	return "Received: from " + helo + " (" + helo + " [" + ip + "])\r\n" +
		"\tby " + relayName + " (Postfix) with ESMTP id 4ZzE2e1XyZz9sW\r\n" +
		"\tfor <someone@rcpt.example>; Tue, 01 Dec 2026 00:59:58 +0000 (UTC)"
}

func runDMARCCases(t *testing.T, cases []dmarcCase) {
	t.Helper()
	env.need(t, true)
	t.Parallel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

// TestDMARCPass: DMARC passes when SPF or DKIM passes for a domain aligned
// with the From domain (RFC 7489 §3.1, §4.2): one of them is enough.
func TestDMARCPass(t *testing.T) {
	runDMARCCases(t, []dmarcCase{
		{
			name: "spf aligned, unsigned", listener: lnMTA, mailFrom: "a@" + dmReject,
			want: outDelivered, result: "pass", fromDom: dmReject, requested: "reject", applied: "none",
			comment: "p=reject dis=NONE", spf: "pass", spfIP: clientIP,
		},
		{
			// SPF fails for this client; the aligned signature carries it.
			name: "dkim aligned, spf fail", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmReject,
			build: signed("a@"+dmReject, dmReject, "dm"),
			want:  outDelivered, result: "pass", fromDom: dmReject, requested: "reject", applied: "none",
			spf: "fail", spfIP: strangerIP,
		},
		{
			// SPF passes, but for another domain than From's.
			name: "dkim aligned, spf unaligned", listener: lnMTA, mailFrom: "bounce@" + domPass,
			build: signed("a@"+dmReject, dmReject, "dm"),
			want:  outDelivered, result: "pass", fromDom: dmReject, requested: "reject", applied: "none",
			spf: "pass", spfIP: clientIP,
		},
		{
			// Relaxed alignment (the default adkim=r): d=dmarc-reject.example
			// aligns with From news.dmarc-reject.example, whose policy is
			// its organizational domain's.
			name: "dkim relaxed alignment", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmRejectSub,
			build: signed("a@"+dmRejectSub, dmReject, "dm"),
			want:  outDelivered, result: "pass", fromDom: dmRejectSub, requested: "reject", applied: "none",
		},
		{
			// A bounce: SPF checks postmaster@HELO (RFC 7208 §2.4), and
			// that domain is what DMARC aligns with From.
			name: "null sender, helo aligned", listener: lnMTA, helo: dmReject, mailFrom: "",
			build: unsigned("mailer-daemon@" + dmReject),
			want:  outDelivered, result: "pass", fromDom: dmReject, requested: "reject", applied: "none",
			spf: "pass", spfIP: clientIP,
		},
		{
			// No record at all: dmarc=none, nothing requested.
			name: "no record", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmNoRecord,
			want: outDelivered, result: "none", fromDom: dmNoRecord, spf: "fail", spfIP: strangerIP,
		},
	})
}

// TestDMARCReject: a failing message of a p=reject domain is refused at
// the end of data with 550 5.7.1 and the configured reject_text; with
// enforce = false it is delivered, the failure recorded.
func TestDMARCReject(t *testing.T) {
	runDMARCCases(t, []dmarcCase{
		{
			name: "spf fail, unsigned", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmReject,
			want: outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
		{
			// A valid signature of another domain does not align.
			name: "unaligned dkim pass", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmReject,
			build: signed("a@"+dmReject, domDKIM2, "s2"),
			want:  outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
		{
			// The aligned signature is broken in transit: dkim=fail.
			name: "aligned dkim broken", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmReject,
			build: func(t *testing.T, rcpt string) []byte {
				m := signed("a@"+dmReject, dmReject, "dm")(t, rcpt)
				altered := bytes.Replace(m, []byte("A signed DMARC case."), []byte("A signed DMARC c4se."), 1)
				if bytes.Equal(altered, m) {
					t.Fatal("the body text to alter is not in the signed message")
				}
				return altered
			},
			want: outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
		{
			name: "report only (enforce = false)", listener: lnReport, client: strangerIP, mailFrom: "a@" + dmReject,
			want: outDelivered, result: "fail", fromDom: dmReject, requested: "reject", applied: "none",
			override: "local_policy", comment: "p=reject dis=NONE", spf: "fail", spfIP: strangerIP,
		},
		{
			// An internal client's mail is a submission: no SPF, and a
			// DMARC failure is not enforced.
			name: "internal network", listener: lnMTA, client: internalIP, mailFrom: "a@" + dmReject,
			want: outDelivered, result: "fail", fromDom: dmReject, requested: "reject", applied: "none",
			override: "local_policy",
		},
	})
}

// TestDMARCQuarantine: p=quarantine with quarantine = "hold" puts the
// message into Postfix's hold queue (the milter quarantine action), not
// into delivery; with quarantine = "header" it is delivered with the
// quarantine header field; with enforce = false it is just delivered.
func TestDMARCQuarantine(t *testing.T) {
	runDMARCCases(t, []dmarcCase{
		{
			name: "hold", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmQuarantine,
			want: outHeld, result: "fail", fromDom: dmQuarantine, requested: "quarantine", applied: "quarantine",
			comment: "p=quarantine dis=QUARANTINE", spf: "fail", spfIP: strangerIP,
		},
		{
			name: "header", listener: lnLenient, client: strangerIP, mailFrom: "a@" + dmQuarantine,
			want: outQuarantined, result: "fail", fromDom: dmQuarantine, requested: "quarantine", applied: "quarantine",
		},
		{
			name: "report only", listener: lnReport, client: strangerIP, mailFrom: "a@" + dmQuarantine,
			want: outDelivered, result: "fail", fromDom: dmQuarantine, requested: "quarantine", applied: "none",
			override: "local_policy",
		},
		{
			name: "pass is not held", listener: lnMTA, mailFrom: "a@" + dmQuarantine,
			want: outDelivered, result: "pass", fromDom: dmQuarantine, requested: "quarantine", applied: "none",
		},
	})
}

// TestDMARCPolicyDiscovery: the policy of a From domain without a record
// of its own comes from the RFC 9989 §4.10 tree walk, and is p= for the
// domain itself, sp= for an existing subdomain and np= for a subdomain
// that does not exist (RFC 9989 §4.7).
func TestDMARCPolicyDiscovery(t *testing.T) {
	runDMARCCases(t, []dmarcCase{
		{
			name: "tree walk inherits p=reject", listener: lnMTA, mailFrom: "a@" + dmOrgDeep,
			want: outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
		{
			name: "tree walk, report only", listener: lnReport, mailFrom: "a@" + dmOrgDeep,
			want: outDelivered, result: "fail", fromDom: dmOrgDeep, requested: "reject", applied: "none",
			override: "local_policy", spf: "none", spfIP: clientIP,
		},
		{
			name: "p= for the domain itself", listener: lnMTA, mailFrom: "a@" + dmSP,
			want: outDelivered, result: "fail", fromDom: dmSP, requested: "none", applied: "none",
		},
		{
			name: "sp= for an existing subdomain", listener: lnMTA, mailFrom: "a@" + dmSPChild,
			want: outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
		{
			name: "sp=, report only", listener: lnReport, mailFrom: "a@" + dmSPChild,
			want: outDelivered, result: "fail", fromDom: dmSPChild, requested: "reject", applied: "none",
			override: "local_policy", comment: "sp=reject dis=NONE",
		},
		{
			name: "np= for a non-existent subdomain", listener: lnMTA, mailFrom: "a@" + dmSPGhost,
			want: outHeld, result: "fail", fromDom: dmSPGhost, requested: "quarantine", applied: "quarantine",
			comment: "np=quarantine dis=QUARANTINE",
		},
	})
}

// TestDMARCTrustedForwarder: a trusted forwarder re-sends mail it did not
// originate, so SPF fails for it; the failure is recorded, not enforced.
func TestDMARCTrustedForwarder(t *testing.T) {
	runDMARCCases(t, []dmarcCase{
		{
			name: "p=reject", listener: lnMTA, client: forwarderIP, mailFrom: "a@" + dmReject,
			want: outDelivered, result: "fail", fromDom: dmReject, requested: "reject", applied: "none",
			override: "trusted_forwarder", spf: "fail", spfIP: forwarderIP,
		},
		{
			name: "p=quarantine", listener: lnMTA, client: forwarderIP, mailFrom: "a@" + dmQuarantine,
			want: outDelivered, result: "fail", fromDom: dmQuarantine, requested: "quarantine", applied: "none",
			override: "trusted_forwarder",
		},
	})
}

// TestDMARCTrustedRelay: mail from our own border MX (trusted_relays) is
// judged on the client that the border MX recorded in the topmost
// Received field, the only one it wrote; the fields below it were written
// by strangers and are not believed.
func TestDMARCTrustedRelay(t *testing.T) {
	runDMARCCases(t, []dmarcCase{
		{
			// The relay itself is not authorized by dmarc-reject.example's
			// SPF record; the original client is.
			name: "authorized original client", listener: lnMTA, client: relayIP, mailFrom: "a@" + dmReject,
			build: unsigned("a@"+dmReject, relayReceived(clientIP, clientName)),
			want:  outDelivered, result: "pass", fromDom: dmReject, requested: "reject", applied: "none",
			spf: "pass", spfIP: clientIP,
		},
		{
			// Postfix writes an IPv6 client as [IPv6:...].
			name: "ipv6 original client", listener: lnMTA, client: relayIP, mailFrom: "a@" + domIPv6,
			build: unsigned("a@"+domIPv6, relayReceived(clientIPv6, clientName)),
			want:  outDelivered, result: "none", fromDom: domIPv6, spf: "pass", spfIP: clientIPv6,
		},
		{
			name: "unauthorized original client", listener: lnMTA, client: relayIP, mailFrom: "a@" + dmReject,
			build: unsigned("a@"+dmReject, relayReceived(strangerIP, "stranger.example")),
			want:  outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
		{
			// A Received field below the relay's naming an authorized
			// client changes nothing: the sender wrote it.
			name: "only the topmost Received counts", listener: lnMTA, client: relayIP, mailFrom: "a@" + dmReject,
			build: unsigned("a@"+dmReject, relayReceived(strangerIP, "stranger.example"),
				"Received: from "+clientName+" ("+clientName+" ["+clientIP+"])\r\n\tby stranger.example with ESMTP; Tue, 01 Dec 2026 00:59:00 +0000"),
			want: outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
		{
			// relay_without_received = "tempfail" (the default).
			name: "no Received field", listener: lnMTA, client: relayIP, mailFrom: "a@" + dmReject,
			want: outTempfailed, enhanced: "4.7.0",
		},
		{
			// relay_without_received = "spf-none": SPF cannot pass, an
			// aligned DKIM signature still can.
			name: "no Received field, spf-none, signed", listener: lnLenient, client: relayIP, mailFrom: "a@" + dmReject,
			build: signed("a@"+dmReject, dmReject, "dm"),
			want:  outDelivered, result: "pass", fromDom: dmReject, requested: "reject", applied: "none",
			spf: "none", spfIP: relayIP,
		},
		{
			// SPF on the relay's own address would pass: it must not be
			// checked.
			name: "no Received field, spf-none, unsigned", listener: lnLenient, client: relayIP, mailFrom: "a@" + dmReject,
			want: outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
	})
}

// TestDMARCMultipleAuthors: several author domains in From are refused
// with multiple_authors = "reject"; with "strictest" each is evaluated and
// the strictest outcome applies, so a passing author cannot cover for a
// failing one (RFC 7489 §6.6.1).
func TestDMARCMultipleAuthors(t *testing.T) {
	twoDomains := "a@" + dmReject + ", b@" + dmQuarantine
	runDMARCCases(t, []dmarcCase{
		{
			name: "two domains, reject", listener: lnMTA, mailFrom: "a@" + dmReject,
			build: unsigned(twoDomains),
			want:  outRejected, enhanced: "5.7.1",
		},
		{
			name: "two From fields, reject", listener: lnMTA, mailFrom: "a@" + dmReject,
			build: unsigned("a@"+dmReject, "From: b@"+dmReject),
			want:  outRejected, enhanced: "5.7.1",
		},
		{
			// One domain, two mailboxes: a single author domain.
			name: "two mailboxes of one domain", listener: lnMTA, mailFrom: "a@" + dmReject,
			build: unsigned("a@" + dmReject + ", b@" + dmReject),
			want:  outDelivered, result: "pass", fromDom: dmReject, requested: "reject", applied: "none",
		},
		{
			// SPF passes aligned for dmarc-reject.example only: the
			// quarantine domain fails, and its quarantine applies.
			name: "strictest: one passes, one fails", listener: lnLenient, mailFrom: "a@" + dmReject,
			build: unsigned(twoDomains),
			want:  outQuarantined, result: "fail", fromDom: dmQuarantine, requested: "quarantine", applied: "quarantine",
		},
		{
			// Both fail: reject is stricter than quarantine.
			name: "strictest: both fail", listener: lnLenient, client: strangerIP, mailFrom: "a@" + dmReject,
			build: unsigned(twoDomains),
			want:  outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
	})
}

// TestDMARCDNSTimeout: the policy lookup times out (the daemons' DNS
// timeout is 1 s); [dmarc] on_dns_error decides: "accept" delivers with
// dmarc=temperror, "tempfail" answers 451 4.4.3 so the sender retries.
func TestDMARCDNSTimeout(t *testing.T) {
	runDMARCCases(t, []dmarcCase{
		{
			name: "accept", listener: lnMTA, mailFrom: "a@" + dmTimeout,
			want: outDelivered, result: "temperror", fromDom: dmTimeout, spf: "fail", spfIP: clientIP,
		},
		{
			name: "tempfail", listener: lnStrict, mailFrom: "a@" + dmTimeout,
			want: outTempfailed, enhanced: "4.4.3",
		},
	})
}

// TestDMARCMailingList: with mailing_lists = "exempt", a failing message
// with a List-Id field (RFC 2919) is delivered; with "enforce" (the
// default) it is refused like any other.
func TestDMARCMailingList(t *testing.T) {
	listID := "List-Id: E2E list <e2e.lists.example>"
	runDMARCCases(t, []dmarcCase{
		{
			name: "enforce", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmReject,
			build: unsigned("a@"+dmReject, listID),
			want:  outRejected, enhanced: "5.7.1", text: dmarcRejectText,
		},
		{
			name: "exempt", listener: lnLenient, client: strangerIP, mailFrom: "a@" + dmReject,
			build: unsigned("a@"+dmReject, listID),
			want:  outDelivered, result: "fail", fromDom: dmReject, requested: "reject", applied: "none",
			override: "mailing_list",
		},
	})
}

// TestDMARCMissingFrom: a message without a From field cannot be evaluated
// (RFC 7489 §6.6.1): malformed_from = "reject" (the default) refuses it,
// "accept" delivers it with dmarc=permerror.
func TestDMARCMissingFrom(t *testing.T) {
	noFrom := func(t *testing.T, rcpt string) []byte {
		m := testMessage("x@"+dmReject, rcpt, "no from", "No From field.\n")
		out := bytes.Replace(m, []byte("From: x@"+dmReject+"\r\n"), nil, 1)
		if bytes.Equal(out, m) {
			t.Fatal("no From field to remove")
		}
		return out
	}
	runDMARCCases(t, []dmarcCase{
		{
			name: "reject", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmReject,
			build: noFrom, want: outRejected, enhanced: "5.7.1",
		},
		{
			name: "accept", listener: lnLenient, client: strangerIP, mailFrom: "a@" + dmReject,
			build: noFrom, want: outDelivered, result: "permerror", spf: "fail", spfIP: strangerIP,
		},
	})
}

// TestDMARCSampling: pct= below 100 (RFC 7489 §6.6.4, still honoured) and
// t=y (RFC 9989 §4.7) ask for the next less strict policy: a failing
// p=reject message is held instead of refused, a p=quarantine one
// delivered, and the header says why.
func TestDMARCSampling(t *testing.T) {
	runDMARCCases(t, []dmarcCase{
		{
			name: "pct=0", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmPct0,
			want: outHeld, result: "fail", fromDom: dmPct0, requested: "reject", applied: "quarantine",
			override: "sampled_out", comment: "p=reject dis=QUARANTINE",
		},
		{
			name: "t=y, p=reject", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmTestMode,
			want: outHeld, result: "fail", fromDom: dmTestMode, requested: "reject", applied: "quarantine",
			override: "policy_test_mode",
		},
		{
			name: "t=y, p=quarantine", listener: lnMTA, client: strangerIP, mailFrom: "a@" + dmTestModeQ,
			want: outDelivered, result: "fail", fromDom: dmTestModeQ, requested: "quarantine", applied: "none",
			override: "policy_test_mode",
		},
	})
}
