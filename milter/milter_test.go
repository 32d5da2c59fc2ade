package milter

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"
	msgdkim "github.com/emersion/go-msgauth/dkim"
	"go.uber.org/zap/zaptest"

	"github.com/authmilter/authmilter/policy"
	"github.com/authmilter/authmilter/policy/authres"
	"github.com/authmilter/authmilter/resolver"
)

// testZone is the DNS the protocol tests see.
func testZone(t *testing.T) (*resolver.Fake, ed25519.PrivateKey) {
	t.Helper()
	z := resolver.NewFake()
	z.AddTXT("example.org", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all")
	z.AddTXT("soft.example.org", "v=spf1 ~all")
	z.Timeout["slow.example.org"] = true
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	key := ed25519.NewKeyFromSeed(seed)
	z.AddTXT("sel._domainkey.example.org", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)))
	return z, key
}

// startServer runs a milter Server on 127.0.0.1 and returns its address.
func startServer(t *testing.T, opts policy.Options, r resolver.Resolver) (*Server, string) {
	t.Helper()
	if opts.AuthservID == "" {
		opts.AuthservID = "mx.test"
	}
	eng, err := policy.New(opts, r)
	if err != nil {
		t.Fatal(err)
	}
	srv := New(eng, zaptest.NewLogger(t), Options{IOTimeout: 10 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return srv, ln.Addr().String()
}

// mta is a go-milter client session standing in for Postfix.
type mta struct {
	t *testing.T
	s *gomilter.ClientSession
}

func dial(t *testing.T, addr string) *mta {
	t.Helper()
	c := gomilter.NewClientWithOptions("tcp", addr, gomilter.ClientOptions{
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		// go-milter's server answers protocol version 2: masks must stay
		// within what version 2 knows (LIBRARIES.md).
		ActionMask:   gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine,
		ProtocolMask: 0,
	})
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &mta{t: t, s: s}
}

func (m *mta) must(a *gomilter.Action, err error) *gomilter.Action {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
	return a
}

func (m *mta) connect(ip, helo string) {
	m.t.Helper()
	family := gomilter.FamilyInet
	if strings.Contains(ip, ":") {
		family = gomilter.FamilyInet6
	}
	if err := m.s.Macros(gomilter.CodeConn, "j", "mx.test", "{daemon_name}", "smtpd", "{client_addr}", ip); err != nil {
		m.t.Fatal(err)
	}
	if a := m.must(m.s.Conn("client.example", family, 25, ip)); a.Code != gomilter.ActContinue {
		m.t.Fatalf("connect: %+v", a)
	}
	if a := m.must(m.s.Helo(helo)); a.Code != gomilter.ActContinue {
		m.t.Fatalf("helo: %+v", a)
	}
}

// message sends one transaction and returns the modifications and the final
// action. headers is "Name: value" lines; body is sent in small chunks.
func (m *mta) message(queueID, from string, headers []string, body string) ([]gomilter.ModifyAction, *gomilter.Action) {
	m.t.Helper()
	if a := m.must(m.s.Mail(from, nil)); a.Code != gomilter.ActContinue {
		return nil, a
	}
	if err := m.s.Macros(gomilter.CodeRcpt, "i", queueID); err != nil {
		m.t.Fatal(err)
	}
	if a := m.must(m.s.Rcpt("rcpt@mx.test", nil)); a.Code != gomilter.ActContinue {
		return nil, a
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		if a := m.must(m.s.HeaderField(name, strings.TrimPrefix(value, " "))); a.Code != gomilter.ActContinue {
			return nil, a
		}
	}
	if a := m.must(m.s.HeaderEnd()); a.Code != gomilter.ActContinue {
		return nil, a
	}
	for len(body) > 0 {
		n := min(len(body), 7)
		if a := m.must(m.s.BodyChunk([]byte(body[:n]))); a.Code != gomilter.ActContinue {
			return nil, a
		}
		body = body[n:]
	}
	mods, act, err := m.s.End()
	if err != nil {
		m.t.Fatal(err)
	}
	return mods, act
}

// results finds the Authentication-Results we inserted and parses it.
func results(t *testing.T, mods []gomilter.ModifyAction) map[string]authres.Result {
	t.Helper()
	out := map[string]authres.Result{}
	for _, a := range mods {
		if a.Code == gomilter.ActInsertHeader && a.HeaderName == "Authentication-Results" {
			id, rs, err := authres.Parse(a.HeaderValue)
			if err != nil {
				t.Fatalf("our own header does not parse: %v\n%s", err, a.HeaderValue)
			}
			if id != "mx.test" {
				t.Errorf("authserv-id %q", id)
			}
			for _, r := range rs {
				key := r.Method
				for _, p := range r.Props {
					if p.Type == "smtp" && p.Name == "helo" {
						key += ".helo"
					}
				}
				if _, dup := out[key]; dup {
					key += "2"
				}
				out[key] = r
			}
			return out
		}
	}
	t.Fatalf("no Authentication-Results inserted: %+v", mods)
	return nil
}

const body = "Hello.\r\n\r\nThis is a test.\r\n"

func plainHeaders(from string) []string {
	return []string{"From: " + from, "To: rcpt@mx.test", "Subject: test", "Date: Tue, 01 Dec 2026 00:00:00 +0000", "Message-ID: <1@example.org>"}
}

func TestSPFResultsAndReceivedSPF(t *testing.T) {
	t.Parallel()
	z, _ := testZone(t)
	_, addr := startServer(t, policy.Options{}, z)
	cases := []struct {
		name, ip, from, want string
	}{
		{"pass", "192.0.2.10", "alice@example.org", "pass"},
		{"fail", "198.51.100.7", "alice@example.org", "fail"},
		{"softfail", "198.51.100.7", "bob@soft.example.org", "softfail"},
		{"none", "198.51.100.7", "carol@nospf.example.org", "none"},
		{"temperror accepted by default", "198.51.100.7", "dave@slow.example.org", "temperror"},
		{"ipv6 pass", "2001:db8::25", "alice@example.org", "pass"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := dial(t, addr)
			m.connect(tc.ip, "mail.example.org")
			mods, act := m.message("Q1", tc.from, plainHeaders(tc.from), body)
			if act.Code != gomilter.ActContinue {
				t.Fatalf("action %+v", act)
			}
			rs := results(t, mods)
			if got := rs["spf"].Value; got != tc.want {
				t.Errorf("spf=%s, want %s", got, tc.want)
			}
			var sawRSPF bool
			for _, a := range mods {
				if a.Code == gomilter.ActInsertHeader && a.HeaderName == "Received-SPF" {
					sawRSPF = true
					if !strings.HasPrefix(a.HeaderValue, tc.want+" ") {
						t.Errorf("Received-SPF: %q", a.HeaderValue)
					}
				}
			}
			if !sawRSPF {
				t.Error("no Received-SPF")
			}
		})
	}
}

// An IPv6 client's address comes as "IPv6:..." from Postfix: go-milter
// cannot parse it in Connect, and {client_addr} is the fallback.
func TestIPv6ClientAddressLiteral(t *testing.T) {
	t.Parallel()
	z, _ := testZone(t)
	_, addr := startServer(t, policy.Options{}, z)
	m := dial(t, addr)
	m.connect("IPv6:2001:db8::25", "mail.example.org")
	mods, _ := m.message("Q6", "alice@example.org", plainHeaders("alice@example.org"), body)
	if got := results(t, mods)["spf"].Value; got != "pass" {
		t.Errorf("spf=%s, want pass", got)
	}
}

// Two messages on one connection: connection data (client IP, HELO) is
// kept, and the second message's results owe nothing to the first's.
func TestTwoMessagesOneConnection(t *testing.T) {
	t.Parallel()
	z, _ := testZone(t)
	_, addr := startServer(t, policy.Options{}, z)
	m := dial(t, addr)
	m.connect("192.0.2.10", "mail.example.org")
	mods, _ := m.message("Q1", "alice@example.org", append(plainHeaders("alice@example.org"),
		"Authentication-Results: mx.test; spf=pass"), body)
	if got := results(t, mods)["spf"].Value; got != "pass" {
		t.Errorf("first: spf=%s", got)
	}
	mods, _ = m.message("Q2", "bob@soft.example.org", plainHeaders("bob@soft.example.org"), body)
	if got := results(t, mods)["spf"].Value; got != "softfail" {
		t.Errorf("second: spf=%s, want softfail", got)
	}
	for _, a := range mods {
		if a.Code == gomilter.ActChangeHeader {
			t.Errorf("second message: deletion %+v left over from the first", a)
		}
	}
}

// With on_dns_error = tempfail a DNS timeout answers 451 4.4.3, and the
// next message on the same connection is judged normally.
func TestTempfailThenGoodMessage(t *testing.T) {
	t.Parallel()
	z, _ := testZone(t)
	_, addr := startServer(t, policy.Options{OnDNSError: policy.DNSErrorTempfail}, z)
	m := dial(t, addr)
	m.connect("192.0.2.10", "mail.example.org")
	_, act := m.message("Q1", "dave@slow.example.org", plainHeaders("dave@slow.example.org"), body)
	if act.Code != gomilter.ActReplyCode || act.SMTPCode != 451 || !strings.HasPrefix(act.SMTPText, "4.4.3 ") {
		t.Fatalf("got %+v, want 451 4.4.3", act)
	}
	mods, act := m.message("Q2", "alice@example.org", plainHeaders("alice@example.org"), body)
	if act.Code != gomilter.ActContinue {
		t.Fatalf("second message: %+v", act)
	}
	if got := results(t, mods)["spf"].Value; got != "pass" {
		t.Errorf("second message: spf=%s, want pass", got)
	}
}

// Authentication-Results fields with our authserv-id are deleted, highest
// index first; a foreign one stays (RFC 8601 §5).
func TestForgedResultsRemoved(t *testing.T) {
	t.Parallel()
	z, _ := testZone(t)
	_, addr := startServer(t, policy.Options{}, z)
	m := dial(t, addr)
	m.connect("192.0.2.10", "mail.example.org")
	hs := append(plainHeaders("alice@example.org"),
		"Authentication-Results: other.example; spf=pass smtp.mailfrom=x@example.org",
		"Authentication-Results: mx.test; dkim=pass header.d=paypal.com",
		"Authentication-Results: (comment) MX.TEST; dmarc=pass")
	mods, _ := m.message("Q1", "alice@example.org", hs, body)
	var deleted []uint32
	for _, a := range mods {
		if a.Code == gomilter.ActChangeHeader {
			if a.HeaderValue != "" || !strings.EqualFold(a.HeaderName, "Authentication-Results") {
				t.Errorf("unexpected change %+v", a)
			}
			deleted = append(deleted, a.HeaderIndex)
		}
	}
	if len(deleted) != 2 || deleted[0] != 3 || deleted[1] != 2 {
		t.Errorf("deleted indexes %v, want [3 2]", deleted)
	}
}

func TestDKIMPassAndFail(t *testing.T) {
	t.Parallel()
	z, key := testZone(t)
	_, addr := startServer(t, policy.Options{}, z)
	msg := strings.Join(plainHeaders("alice@example.org"), "\r\n") + "\r\n\r\n" + body
	var signed strings.Builder
	err := msgdkim.Sign(&signed, strings.NewReader(msg), &msgdkim.SignOptions{
		Domain: "example.org", Selector: "sel", Signer: key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(signed.String(), "\r\n\r\n")
	var headers []string
	for _, l := range strings.Split(head, "\r\n") {
		if l[0] == ' ' || l[0] == '\t' {
			headers[len(headers)-1] += "\r\n" + l
			continue
		}
		headers = append(headers, l)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"intact", body, "pass"},
		{"body altered in transit", body + "P.S. added by a list\r\n", "fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := dial(t, addr)
			m.connect("192.0.2.10", "mail.example.org")
			mods, _ := m.message("Q1", "alice@example.org", headers, tc.body)
			d := results(t, mods)["dkim"]
			if d.Value != tc.want {
				t.Fatalf("dkim=%s (%s), want %s", d.Value, d.Reason, tc.want)
			}
			props := map[string]string{}
			for _, p := range d.Props {
				props[p.Type+"."+p.Name] = p.Value
			}
			if props["header.d"] != "example.org" || props["header.s"] != "sel" || props["header.a"] != "ed25519-sha256" || len(props["header.b"]) < 8 {
				t.Errorf("properties %v", props)
			}
		})
	}
}

// A header section over the limit is refused with 552 5.3.4 at once,
// instead of being buffered.
func TestHeaderSectionTooLarge(t *testing.T) {
	t.Parallel()
	z, _ := testZone(t)
	_, addr := startServer(t, policy.Options{MaxHeaderBytes: 8192}, z)
	m := dial(t, addr)
	m.connect("192.0.2.10", "mail.example.org")
	hs := plainHeaders("alice@example.org")
	for i := 0; i < 200; i++ {
		hs = append(hs, "X-Filler: "+strings.Repeat("x", 60))
	}
	_, act := m.message("Q1", "alice@example.org", hs, body)
	if act.Code != gomilter.ActReplyCode || act.SMTPCode != 552 || !strings.HasPrefix(act.SMTPText, "5.3.4 ") {
		t.Fatalf("got %+v, want 552 5.3.4", act)
	}
}

// Shutdown waits for a message in flight, and a connection that starts a
// new message meanwhile is told to come back later.
func TestShutdownFinishesMessageInFlight(t *testing.T) {
	t.Parallel()
	z, _ := testZone(t)
	eng, err := policy.New(policy.Options{AuthservID: "mx.test"}, z)
	if err != nil {
		t.Fatal(err)
	}
	srv := New(eng, zaptest.NewLogger(t), Options{IOTimeout: 10 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	busy, idle := dial(t, ln.Addr().String()), dial(t, ln.Addr().String())
	busy.connect("192.0.2.10", "mail.example.org")
	idle.connect("192.0.2.11", "mail.example.org")
	busy.must(busy.s.Mail("alice@example.org", nil))
	for srv.busy() == 0 {
		time.Sleep(5 * time.Millisecond)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(context.Background()) }()
	for !srv.closing.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	if a := idle.must(idle.s.Mail("bob@example.org", nil)); a.Code != gomilter.ActReplyCode || a.SMTPCode != 451 {
		t.Errorf("new message during shutdown: %+v, want 451", a)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned %v with a message in flight", err)
	default:
	}
	busy.must(busy.s.Rcpt("rcpt@mx.test", nil))
	for _, h := range plainHeaders("alice@example.org") {
		name, value, _ := strings.Cut(h, ": ")
		busy.must(busy.s.HeaderField(name, value))
	}
	busy.must(busy.s.HeaderEnd())
	busy.must(busy.s.BodyChunk([]byte(body)))
	mods, act, err := busy.s.End()
	if err != nil || act.Code != gomilter.ActContinue {
		t.Fatalf("in-flight message: %+v %v", act, err)
	}
	if got := results(t, mods)["spf"].Value; got != "pass" {
		t.Errorf("in-flight message: spf=%s", got)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
