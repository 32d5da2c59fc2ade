package policy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/authmilter/authmilter/policy/authres"
	"github.com/authmilter/authmilter/policy/dkim"
	"github.com/authmilter/authmilter/policy/dmarc"
	"github.com/authmilter/authmilter/policy/msghdr"
	"github.com/authmilter/authmilter/policy/sign"
	"github.com/authmilter/authmilter/policy/spf"
	"github.com/authmilter/authmilter/resolver"
)

// DNSErrorAction is what to do when a check ends in temperror (a DNS
// timeout or SERVFAIL).
type DNSErrorAction string

const (
	// DNSErrorAccept delivers the message with "temperror" in
	// Authentication-Results. The default: a DNS outage on the sender's side
	// must not stop our mail, and DMARC treats temperror as "no decision".
	DNSErrorAccept DNSErrorAction = "accept"
	// DNSErrorTempfail answers 451 4.4.3 so that the sender retries later,
	// as RFC 7208 §8.6 allows for SPF temperror.
	DNSErrorTempfail DNSErrorAction = "tempfail"
)

// ErrOptions is returned by New for unusable options.
var ErrOptions = errors.New("policy: bad options")

// Options configure an Engine. The zero value of each field means the
// documented default.
type Options struct {
	// AuthservID identifies us in Authentication-Results (RFC 8601 §2.5).
	AuthservID string
	// OnDNSError: see DNSErrorAction. Default DNSErrorAccept.
	OnDNSError DNSErrorAction
	// SPFHelo also checks the HELO identity (RFC 7208 §2.3) and reports it
	// in its own Authentication-Results entry.
	SPFHelo bool
	// MaxHeaderBytes bounds the header section we keep in memory; bigger
	// messages are rejected with 552 5.3.4. Default 256 KiB.
	MaxHeaderBytes int
	// MaxSignatures is how many DKIM signatures are verified per message
	// (default 5); MinRSABits the smallest RSA key accepted (default 1024,
	// RFC 8301 §3.2).
	MaxSignatures, MinRSABits int
	// Now is the clock for DKIM expiry and SPF's %{t}; nil means time.Now.
	Now func() time.Time
	// InternalNetworks are our own networks: their mail is a submission,
	// not judged by SPF, exempt from DMARC enforcement. nil means
	// 127.0.0.0/8 and ::1/128; an empty non-nil slice means none.
	InternalNetworks []netip.Prefix
	// DMARC configures DMARC evaluation and local policy.
	DMARC DMARCOptions
	// Signing configures DKIM signing of outbound mail.
	Signing SigningOptions
}

// Engine evaluates messages. It is immutable once built and safe for
// concurrent use; a configuration reload builds a new Engine and swaps it in,
// so a message is always judged by one configuration from start to end.
type Engine struct {
	opts  Options
	ourID string // AuthservID as authres.AuthservID reads it back
	spf   *spf.Checker
	dkim  *dkim.Verifier
	dmarc *dmarc.Evaluator
	res   resolver.Resolver
}

// New builds an Engine that looks names up through r.
func New(opts Options, r resolver.Resolver) (*Engine, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: no resolver", ErrOptions)
	}
	if opts.AuthservID == "" {
		return nil, fmt.Errorf("%w: empty authserv-id", ErrOptions)
	}
	switch opts.OnDNSError {
	case "":
		opts.OnDNSError = DNSErrorAccept
	case DNSErrorAccept, DNSErrorTempfail:
	default:
		return nil, fmt.Errorf("%w: on_dns_error %q", ErrOptions, opts.OnDNSError)
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = 256 << 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.InternalNetworks == nil {
		opts.InternalNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if err := opts.DMARC.setDefaults(); err != nil {
		return nil, err
	}
	ourID, err := authres.AuthservID(authres.Format(opts.AuthservID, nil))
	if err != nil || ourID == "" {
		return nil, fmt.Errorf("%w: authserv-id %q cannot be written", ErrOptions, opts.AuthservID)
	}
	return &Engine{
		opts:  opts,
		ourID: ourID,
		dmarc: &dmarc.Evaluator{Mode: opts.DMARC.Mode, PSL: opts.DMARC.PSL},
		res:   r,
		spf: &spf.Checker{
			Resolver: r,
			Receiver: opts.AuthservID,
			Now:      opts.Now,
		},
		dkim: &dkim.Verifier{
			Resolver:      r,
			MaxSignatures: opts.MaxSignatures,
			MinRSABits:    opts.MinRSABits,
			Now:           opts.Now,
		},
	}, nil
}

// AuthservID returns the authserv-id this engine writes and removes.
func (e *Engine) AuthservID() string { return e.opts.AuthservID }

// Envelope is what the MTA told us before the message content: the SMTP
// connection, HELO and envelope, and the MTA's macros that later stages use.
type Envelope struct {
	QueueID    string // the MTA's queue id, for logs
	ClientIP   net.IP // nil for local submissions (sendmail -bs, pickup)
	ClientName string // the MTA's verified client name, or "unknown"
	Helo       string
	MailFrom   string // without angle brackets; "" is the null sender
	Rcpts      []string
	AuthUser   string // SMTP AUTH identity ({auth_authen}); "" if none
	DaemonName string // the MTA's listener name ({daemon_name})
	MTAHost    string // the MTA's own host name ({j})
}

// Header is one header field as the MTA passed it: the name, and the value
// without the one space the milter protocol strips after the colon.
type Header struct {
	Name  string
	Value string
}

// Message is one message being judged. Its methods follow the order of the
// SMTP DATA phase: Header for each field, EndHeaders, Body for each chunk,
// then Finish (or Abort). A Message is used by one goroutine.
type Message struct {
	e       *Engine
	ctx     context.Context
	cancel  context.CancelFunc
	env     Envelope
	start   time.Time
	headers []Header
	size    int
	tooBig  bool
	dkim    *dkim.Session
	spf     chan spfOutcomes
	ended   bool

	class      Class
	spfStarted bool
	// hop is the client a trusted relay recorded (Class Relay), and
	// relayProblem why it could not be read.
	hop          *msghdr.Hop
	relayProblem string
	relayLocal   bool // the relay generated the message itself

	// Outbound mail is signed instead of verified.
	outbound   bool
	signing    *Signing
	signer     *sign.Session
	signErr    error
	keyMissing bool
}

type spfOutcomes struct {
	mailFrom spf.Outcome
	helo     *spf.Outcome
	skipped  string // why SPF was not checked at all
	panicked string // a recovered panic, for the log
}

// Begin starts judging a message whose envelope is complete. SPF depends on
// the envelope only, so its DNS lookups start now and overlap with the
// transfer of the header and body; for a trusted relay they wait for the
// relay's Received field (EndHeaders).
func (e *Engine) Begin(ctx context.Context, env Envelope) *Message {
	ctx, cancel := context.WithCancel(ctx)
	m := &Message{
		e:      e,
		ctx:    ctx,
		cancel: cancel,
		env:    env,
		start:  e.opts.Now(),
		spf:    make(chan spfOutcomes, 1),
		class:  e.classify(env),
	}
	m.outbound = e.outbound(env, m.class)
	if m.outbound {
		return m // signed at the end of the header section, not verified
	}
	m.dkim = e.dkim.NewSession(ctx)
	if m.class != Relay {
		m.startSPF(env.ClientIP, env.Helo)
	}
	return m
}

// startSPF runs the SPF checks for the given client in the background.
func (m *Message) startSPF(ip net.IP, helo string) {
	m.spfStarted = true
	env, class := m.env, m.class
	env.ClientIP, env.Helo = ip, helo
	go func() {
		// A bug in the evaluator, met by a hostile DNS answer, must cost
		// one temperror, not the whole daemon: go-milter's recover covers
		// only the connection's goroutine.
		defer func() {
			if r := recover(); r != nil {
				m.spf <- spfOutcomes{mailFrom: spf.Outcome{Result: spf.TempError, Identity: "mailfrom",
					Sender: env.MailFrom, Problem: "internal error"}, panicked: fmt.Sprint(r)}
			}
		}()
		m.spf <- m.e.checkSPF(m.ctx, env, class)
	}()
}

// maxRelayHops bounds how many of the relay's own hops (a content filter
// re-injecting over loopback, a second relay) are walked past.
const maxRelayHops = 5

// relayHop reads the client a trusted relay vouches for: the topmost
// Received field, which the relay wrote (RFC 5321 §4.4: each hop prepends
// its own). A hop from loopback or from another trusted relay is the
// relay's own re-injection (an amavis-style content filter): the field
// below it was written by the relay too, on the first pass, so the walk
// goes on, at most maxRelayHops fields. Nothing below the first hop from
// elsewhere is believed: it was written by hosts we do not control.
func (m *Message) relayHop() {
	walked := 0
	for _, h := range m.headers {
		if !strings.EqualFold(h.Name, "Received") {
			continue
		}
		if walked++; walked > maxRelayHops {
			m.relayProblem = "too many hops inside the trusted relay"
			return
		}
		value := strings.TrimSpace(h.Value)
		if walked == 1 && strings.HasPrefix(strings.ToLower(value), "by ") {
			// "Received: by relay (Postfix, from userid 0)": no SMTP client
			// at all, the relay made the message itself (cron, bounces).
			// Believed only when the "by" host is the relay as it greeted
			// us: a relay that failed to prepend its own field must not let
			// a sender's "Received: by x" make its mail ours.
			if by := firstWord(value[3:]); by != "" && strings.EqualFold(strings.TrimSuffix(by, "."), strings.TrimSuffix(m.env.Helo, ".")) {
				m.class = Internal
				m.relayLocal = true
				m.startSPF(nil, "")
				return
			}
			m.relayProblem = "the trusted relay's topmost Received field has no client and is not the relay's own"
			return
		}
		hop, err := msghdr.ParseReceived(value)
		if err != nil {
			m.relayProblem = "the trusted relay's Received field names no client address"
			return
		}
		a := toAddr(hop.IP)
		if a.IsLoopback() || contains(m.e.opts.DMARC.TrustedRelays, a) {
			continue // the relay's own re-injection: look one hop further
		}
		m.hop = &hop
		if contains(m.e.opts.InternalNetworks, a) {
			// One of our own hosts sent it through the relay.
			m.class = Internal
		}
		m.startSPF(hop.IP, hop.Helo)
		return
	}
	if walked > 0 {
		m.relayProblem = "the trusted relay's Received fields name no client outside the relay"
		return
	}
	m.relayProblem = "no Received field from the trusted relay"
}

// firstWord returns s up to its first white space or comment.
func firstWord(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t\r\n("); i >= 0 {
		s = s[:i]
	}
	return s
}

// skipSPF says why a client's mail is not judged by SPF, or "" if it is.
// SPF authorizes the hosts that relay a domain's mail onto the Internet (RFC
// 7208 §1); judging our own users' submissions by it would stamp spf=fail
// under our authserv-id on every cron job and every message sent from a
// user's home IP. Postfix presents non_smtpd_milters mail (sendmail(1),
// pickup) as coming from 127.0.0.1, inside the default internal_networks.
func skipSPF(env Envelope, class Class) string {
	switch {
	case class == Authenticated:
		return "authenticated submission"
	case class == Internal:
		return "internal network"
	}
	return ""
}

// spfTimeout bounds one message's SPF checks, all lookups included.
const spfTimeout = 20 * time.Second

// checkSPF runs the MAIL FROM check and, when configured and distinct, the
// HELO check (RFC 7208 §2.3, §2.4).
func (e *Engine) checkSPF(ctx context.Context, env Envelope, class Class) spfOutcomes {
	if why := skipSPF(env, class); why != "" {
		return spfOutcomes{skipped: why}
	}
	// RFC 7208 §4.6.4: an SPF check may be bounded in time (at least 20 s);
	// past that its result is temperror, and the message is not held up.
	ctx, cancel := context.WithTimeout(ctx, spfTimeout)
	defer cancel()
	var out spfOutcomes
	out.mailFrom = e.spf.CheckMailFrom(ctx, env.ClientIP, env.Helo, env.MailFrom)
	if e.opts.SPFHelo && env.MailFrom != "" {
		// For the null sender the MAIL FROM check already was the HELO
		// identity (postmaster@HELO); checking again would only double the
		// lookups.
		h := e.spf.CheckHelo(ctx, env.ClientIP, env.Helo)
		out.helo = &h
	}
	return out
}

// Header records one header field. It returns a Verdict only when the
// message must be refused right away: its header section is larger than
// MaxHeaderBytes (RFC 5321 §4.5.3.1.7 leaves the limit to us; we answer
// 552 5.3.4 instead of buffering without bound).
func (m *Message) Header(name, value string) *Verdict {
	if m.tooBig {
		return m.tooBigVerdict()
	}
	m.size += len(name) + len(value) + 4
	if m.size > m.e.opts.MaxHeaderBytes {
		m.tooBig = true
		m.headers = nil
		return m.tooBigVerdict()
	}
	m.headers = append(m.headers, Header{Name: name, Value: value})
	if m.dkim != nil {
		m.dkim.Header(rawField(name, value))
	}
	return nil
}

func (m *Message) tooBigVerdict() *Verdict {
	return &Verdict{
		Action:  Reject,
		Reply:   Reply{Code: 552, Enhanced: "5.3.4", Text: "Message header section too large"},
		Reasons: []string{fmt.Sprintf("header section over %d bytes", m.e.opts.MaxHeaderBytes)},
		Elapsed: m.e.opts.Now().Sub(m.start),
	}
}

// rawField rebuilds the header field as it stood in the message, for DKIM.
// The milter protocol without SMFIP_HDR_LEADSPC (go-milter negotiates
// version 2) drops the first space, not a tab, after the colon, so one space
// is put back unless the value starts with a tab. "Subject:x" comes back as
// "Subject: x", which only matters to "simple" header canonicalization
// (RFC 6376 §3.4.1); "relaxed" (§3.4.2), which nearly every signer uses,
// does not depend on it either way.
func rawField(name, value string) []byte {
	b := make([]byte, 0, len(name)+len(value)+4)
	b = append(b, name...)
	b = append(b, ':')
	if value == "" || value[0] != '\t' {
		b = append(b, ' ')
	}
	b = append(b, value...)
	return append(b, '\r', '\n')
}

// EndHeaders marks the end of the header section.
func (m *Message) EndHeaders() {
	if m.outbound {
		if m.signing == nil {
			m.startSigning()
		}
		return
	}
	m.dkim.EndHeaders()
	if m.class == Relay && !m.spfStarted {
		m.relayHop()
	}
}

// Body streams one chunk of the body into the DKIM verifier; nothing keeps
// the body in memory.
func (m *Message) Body(chunk []byte) error {
	if m.outbound {
		if m.signer == nil {
			return nil
		}
		if err := m.signer.Body(chunk); err != nil {
			m.signErr = err
			m.signer.Abort()
			m.signer = nil
			return err
		}
		return nil
	}
	return m.dkim.Body(chunk)
}

// Abort stops all work on the message (the SMTP client went away, or the
// MTA aborted it). The Message must not be used afterwards.
func (m *Message) Abort() {
	if m.ended {
		return
	}
	m.ended = true
	m.cancel()
	if m.dkim != nil {
		m.dkim.Abort()
	}
	if m.signer != nil {
		m.signer.Abort()
	}
}

// Finish completes every check and returns the verdict.
func (m *Message) Finish() *Verdict {
	if m.tooBig {
		m.Abort()
		return m.tooBigVerdict()
	}
	if m.class == Relay && !m.spfStarted && m.relayProblem == "" {
		m.relayHop() // a message that never reached EndHeaders
	}
	m.ended = true
	defer m.cancel()
	if m.outbound {
		return m.finishOutbound()
	}
	dk := m.dkim.Close()
	e := m.e

	v := &Verdict{Action: Accept, Class: m.class, DKIM: dk}
	clientIP, helo := m.env.ClientIP, m.env.Helo
	if m.spfStarted {
		sp := <-m.spf
		v.SPF, v.HeloSPF = sp.mailFrom, sp.helo
		if sp.skipped != "" {
			v.Reasons = append(v.Reasons, "SPF not checked: "+sp.skipped)
		}
		if sp.panicked != "" {
			v.Reasons = append(v.Reasons, "SPF evaluator panicked: "+sp.panicked)
		}
	}
	if m.hop != nil {
		clientIP, helo = m.hop.IP, m.hop.Helo
		v.Reasons = append(v.Reasons, "judged on the client recorded by trusted relay "+ipString(m.env.ClientIP)+": "+ipString(clientIP))
	}
	if m.relayLocal {
		clientIP = nil
		v.Reasons = append(v.Reasons, "generated on trusted relay "+ipString(m.env.ClientIP))
	}
	if m.relayProblem != "" {
		// Never a pass: without the relay's own record of the client, SPF
		// has nothing to judge.
		v.SPF = spf.Outcome{Result: spf.None, Identity: spf.IdentityMailFrom, Sender: m.env.MailFrom, Problem: m.relayProblem}
		v.Reasons = append(v.Reasons, m.relayProblem)
		if e.opts.DMARC.TempfailRelayWithoutReceived {
			v.Action = Tempfail
			v.Reply = Reply{Code: 451, Enhanced: "4.7.0", Text: "Cannot tell which client the relay received this message from, try again later"}
		}
	}
	v.HeaderFrom = m.headerFrom()
	v.Remove = forgedResults(m.headers, e.ourID)
	if len(v.Remove) > 0 {
		v.Reasons = append(v.Reasons, fmt.Sprintf("removed %d forged Authentication-Results", len(v.Remove)))
	}

	m.judgeDMARC(v, clientIP)

	// A DNS temperror of SPF or DKIM acts only when DMARC has not passed
	// anyway: then the missing answer could have changed the outcome.
	if v.DNSTempError() && v.Action == Accept && (v.DMARC == nil || v.DMARC.Result.Result != "pass") {
		if e.opts.OnDNSError == DNSErrorTempfail {
			v.Action = Tempfail
			v.Reply = Reply{Code: 451, Enhanced: "4.4.3", Text: "Temporary DNS failure during policy check, try again later"}
			v.Reasons = append(v.Reasons, "DNS temperror and on_dns_error = tempfail")
		} else {
			v.Reasons = append(v.Reasons, "DNS temperror accepted (on_dns_error = accept)")
		}
	}

	v.Add = []Field{
		{Name: "Authentication-Results", Value: strings.TrimLeft(authres.Format(e.opts.AuthservID, m.results(v)), " \t")},
	}
	if v.SPF.Result != "" && clientIP != nil {
		v.Add = append([]Field{{Name: "Received-SPF",
			Value: strings.TrimLeft(spf.ReceivedSPF(v.SPF, clientIP, helo, e.opts.AuthservID), " \t")}}, v.Add...)
	}
	if d := v.DMARC; d != nil && d.Applied == dmarc.PolicyQuarantine && e.opts.DMARC.Quarantine == QuarantineHeader && v.Action == Accept {
		v.Add = append(v.Add, Field{Name: e.opts.DMARC.QuarantineHeaderName,
			Value: strings.TrimLeft(authres.Format(e.opts.AuthservID, []authres.Result{dmarcResult(d)}), " \t")})
	}
	v.Elapsed = e.opts.Now().Sub(m.start)
	return v
}

// finishOutbound is the verdict for mail we sign: the signatures, or the
// configured failure action. Outbound mail gets no Authentication-Results
// of ours, but forged ones are still removed.
func (m *Message) finishOutbound() *Verdict {
	if m.signing == nil {
		m.startSigning() // a message that never reached EndHeaders
	}
	v := &Verdict{Action: Accept, Class: m.class}
	v.HeaderFrom = m.headerFrom()
	v.Remove = forgedResults(m.headers, m.e.ourID)
	m.finishSigning(v)
	v.Elapsed = m.e.opts.Now().Sub(m.start)
	return v
}

// results builds the Authentication-Results entries (RFC 8601 §2.7): the
// SPF result for MAIL FROM (§2.7.2 smtp.mailfrom), the HELO result when
// checked (smtp.helo), and one dkim entry per signature (§2.7.1, with the
// header.d/i/s/a/b properties of RFC 6008 and RFC 8601), or dkim=none.
func (m *Message) results(v *Verdict) []authres.Result {
	var rs []authres.Result
	if m.env.AuthUser != "" {
		// RFC 8601 §2.7.4: the client authenticated with SMTP AUTH. The
		// login itself (smtp.auth) is left out: this field may travel on
		// to the Internet, and a login is nobody else's business (Postfix's
		// smtpd_sasl_authenticated_header is off by default for the same
		// reason). The log line has it.
		rs = append(rs, authres.Result{Method: "auth", Value: "pass"})
	}
	if v.SPF.Result != "" {
		r := authres.Result{Method: "spf", Value: string(v.SPF.Result), Reason: spfReason(v.SPF)}
		if v.SPF.Sender != "" {
			r.Props = append(r.Props, authres.Property{Type: "smtp", Name: "mailfrom", Value: v.SPF.Sender})
		}
		rs = append(rs, r)
	}
	if v.HeloSPF != nil {
		rs = append(rs, authres.Result{Method: "spf", Value: string(v.HeloSPF.Result), Reason: spfReason(*v.HeloSPF),
			Props: []authres.Property{{Type: "smtp", Name: "helo", Value: m.env.Helo}}})
	}
	if len(v.DKIM) == 0 {
		rs = append(rs, authres.Result{Method: "dkim", Value: "none"})
	}
	for _, d := range v.DKIM {
		r := authres.Result{Method: "dkim", Value: d.Result, Reason: d.Reason}
		if d.KeyBits > 0 {
			r.Comment = strconv.Itoa(d.KeyBits) + "-bit key"
		}
		add := func(name, value string) {
			if value != "" {
				r.Props = append(r.Props, authres.Property{Type: "header", Name: name, Value: value})
			}
		}
		add("d", d.Domain)
		add("i", d.Identifier)
		add("s", d.Selector)
		add("a", d.Algorithm)
		add("b", d.B)
		rs = append(rs, r)
	}
	if v.DMARC != nil {
		rs = append(rs, dmarcResult(v.DMARC))
	}
	return rs
}

// spfReason is the reason= text for an SPF entry: the problem for errors and
// none, nothing for decisive results (the Received-SPF field has the detail).
func spfReason(o spf.Outcome) string {
	switch o.Result {
	case spf.PermError, spf.TempError, spf.None:
		return o.Problem
	}
	return ""
}

// forgedResults finds the Authentication-Results fields that carry our
// authserv-id: a sender must not be able to hand us results that downstream
// filters would read as ours (RFC 8601 §5). authservID is in the comparable
// form authres.AuthservID returns (lower case, A-labels). A field with no
// readable id at all is left alone: no reader can take it for ours. Indexes are 1-based per field name (the milter protocol's
// SMFIR_CHGHEADER), returned highest first.
func forgedResults(headers []Header, authservID string) []HeaderRef {
	var refs []HeaderRef
	n := 0
	for _, h := range headers {
		if !strings.EqualFold(h.Name, "Authentication-Results") {
			continue
		}
		n++
		// Two readings: the RFC 8601 grammar, and the crude one of a lenient
		// reader downstream (comments cut naively, first word). A field
		// goes when either of them names us, malformed or not.
		id, _ := authres.AuthservID(h.Value)
		if (id != "" && strings.TrimSuffix(id, ".") == authservID) || lenientID(h.Value) == authservID {
			refs = append(refs, HeaderRef{Name: h.Name, Index: n})
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Index > refs[j].Index })
	return refs
}

// lenientID reads an authserv-id the way a careless parser would: drop
// anything in parentheses (unbalanced ones to the end), take the first word
// before ';', strip quotes and a trailing dot, lower-case it.
func lenientID(value string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(value); i++ {
		switch c := value[i]; {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	head, _, _ := strings.Cut(b.String(), ";")
	words := strings.Fields(head)
	if len(words) == 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(words[0], `"`), "."))
}

// headerFrom joins the From field values, for the log line.
func (m *Message) headerFrom() string {
	var b strings.Builder
	for _, h := range m.headers {
		if strings.EqualFold(h.Name, "From") {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(h.Value)
		}
	}
	return b.String()
}

// Headers returns the header fields recorded so far, in order.
func (m *Message) Headers() []Header { return m.headers }
