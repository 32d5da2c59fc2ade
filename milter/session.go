package milter

import (
	"context"
	"net"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"

	gomilter "github.com/emersion/go-milter"
	"go.uber.org/zap"

	"github.com/authmilter/authmilter/policy"
)

// session is one MTA connection (one SMTP session on the MTA's side). It
// keeps the connection's data across messages and builds one policy.Message
// per SMTP transaction. Its callbacks all run on the connection's goroutine;
// only inMessage is read from elsewhere (by Shutdown).
type session struct {
	s   *Server
	log *zap.Logger

	// Connection data, kept for every message on the connection.
	clientIP   net.IP
	clientName string
	helo       string
	daemonName string
	mtaHost    string

	// Transaction data, reset at MAIL FROM and at abort.
	inMessage atomic.Bool
	env       policy.Envelope
	engine    *policy.Engine
	msg       *policy.Message
	done      bool      // a verdict was already sent for this transaction
	mailAt    time.Time // when MAIL FROM arrived, for Observer.Message
}

// observe tells the Observer, if any, how long a callback took; callbacks
// call it deferred with their start time.
func (x *session) observe(stage string, start time.Time) {
	if o := x.s.opts.Observer; o != nil {
		o.Stage(stage, time.Since(start))
	}
}

// macro copies the macros we use from the current stage's set: go-milter
// replaces Modifier.Macros at every stage, so a value is only there in the
// callback of the stage the MTA sent it with.
func (x *session) macros(m *gomilter.Modifier) {
	get := func(names ...string) string {
		for _, n := range names {
			if v := m.Macros[n]; v != "" {
				return v
			}
		}
		return ""
	}
	if v := get("j"); v != "" {
		x.mtaHost = v
	}
	if v := get("{daemon_name}"); v != "" {
		x.daemonName = v
	}
	if v := get("{client_addr}"); v != "" && x.clientIP == nil {
		x.clientIP = parseClientAddr(v)
	}
	if v := get("_"); v != "" && x.clientIP == nil {
		// "_" is "name [addr]" (Sendmail may add "(may be forged)");
		// Sendmail's default connect macros include it, not {client_addr}.
		if i, j := strings.LastIndexByte(v, '['), strings.LastIndexByte(v, ']'); i >= 0 && j > i {
			x.clientIP = parseClientAddr(v[i+1 : j])
		}
	}
	if v := get("{client_name}"); v != "" && x.clientName == "" {
		x.clientName = v
	}
	if v := get("i"); v != "" {
		x.env.QueueID = v
	}
	if v := get("{auth_authen}"); v != "" {
		x.env.AuthUser = v
	}
}

// parseClientAddr parses an MTA's client address: Postfix and Sendmail write
// IPv6 clients as "IPv6:2001:db8::1" (RFC 5321 §4.1.3 address literal).
func parseClientAddr(s string) net.IP {
	s = strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), "IPv6:")
	if len(s) > 5 && strings.EqualFold(s[:5], "ipv6:") {
		s = s[5:]
	}
	return net.ParseIP(s)
}

func (x *session) Connect(host, family string, port uint16, addr net.IP, m *gomilter.Modifier) (gomilter.Response, error) {
	defer x.observe(StageConnect, time.Now())
	x.clientName = host
	if family == "tcp4" || family == "tcp6" {
		x.clientIP = addr
	}
	x.macros(m)
	if x.clientIP == nil && (family == "tcp4" || family == "tcp6") {
		// Without an address the message would be judged as a local
		// submission: say so loudly, it is a configuration problem.
		x.log.Warn("client address not readable; add {client_addr} to the MTA's connect macros",
			zap.String("family", family), zap.String("client_name", host))
	}
	return gomilter.RespContinue, nil
}

func (x *session) Helo(name string, m *gomilter.Modifier) (gomilter.Response, error) {
	defer x.observe(StageHelo, time.Now())
	x.helo = name
	x.macros(m)
	return gomilter.RespContinue, nil
}

func (x *session) MailFrom(from string, m *gomilter.Modifier) (gomilter.Response, error) {
	defer x.observe(StageMail, time.Now())
	x.reset("new transaction")
	x.mailAt = time.Now()
	x.macros(m)
	// Mark the message busy before looking at closing: Shutdown sets
	// closing first and then waits for busy connections, so either it
	// waits for this message or this message sees closing.
	x.inMessage.Store(true)
	if x.s.closing.Load() {
		x.done = true
		x.inMessage.Store(false)
		return replyCode(policy.Reply{Code: 451, Enhanced: "4.3.2", Text: "Service shutting down, try again later"}), nil
	}
	x.env.MailFrom = from
	return gomilter.RespContinue, nil
}

func (x *session) RcptTo(rcpt string, m *gomilter.Modifier) (gomilter.Response, error) {
	defer x.observe(StageRcpt, time.Now())
	x.macros(m)
	x.env.Rcpts = append(x.env.Rcpts, rcpt)
	return gomilter.RespContinue, nil
}

// begin starts the policy.Message once the envelope is complete, at the
// first header (or at the end of headers for a message without any).
func (x *session) begin(m *gomilter.Modifier) {
	x.macros(m)
	if x.msg != nil {
		return
	}
	x.inMessage.Store(true)
	x.env.ClientIP = x.clientIP
	x.env.ClientName = x.clientName
	x.env.Helo = x.helo
	x.env.DaemonName = x.daemonName
	x.env.MTAHost = x.mtaHost
	x.engine = x.s.engine.Load()
	x.msg = x.engine.Begin(context.Background(), x.env)
}

func (x *session) Header(name, value string, m *gomilter.Modifier) (gomilter.Response, error) {
	defer x.observe(StageHeader, time.Now())
	if x.done {
		return gomilter.RespContinue, nil
	}
	x.begin(m)
	if v := x.msg.Header(name, value); v != nil {
		return x.finish(v), nil
	}
	return gomilter.RespContinue, nil
}

func (x *session) Headers(h textproto.MIMEHeader, m *gomilter.Modifier) (gomilter.Response, error) {
	defer x.observe(StageEOH, time.Now())
	// go-milter keeps every header of every message on the connection in
	// this map until an SMFIC_ABORT; we collect our own, so empty it.
	clear(h)
	if x.done {
		return gomilter.RespContinue, nil
	}
	x.begin(m)
	x.msg.EndHeaders()
	return gomilter.RespContinue, nil
}

func (x *session) BodyChunk(chunk []byte, m *gomilter.Modifier) (gomilter.Response, error) {
	defer x.observe(StageBody, time.Now())
	if x.done || x.msg == nil {
		return gomilter.RespContinue, nil
	}
	if err := x.msg.Body(chunk); err != nil {
		x.log.Debug("body chunk", zap.Error(err))
	}
	return gomilter.RespContinue, nil
}

// Body is the end of the message: judge it and apply the verdict.
func (x *session) Body(m *gomilter.Modifier) (gomilter.Response, error) {
	defer x.observe(StageEOM, time.Now())
	if x.done {
		x.reset("")
		return gomilter.RespContinue, nil
	}
	x.begin(m)
	v := x.msg.Finish()
	if v.Action == policy.Accept || v.Action == policy.Quarantine {
		// Deletions first, highest index first (policy sorts them), so no
		// deletion shifts the index of the next; then insert at the top in
		// reverse, so that v.Add[0] ends up first.
		for _, r := range v.Remove {
			if err := m.ChangeHeader(r.Index, r.Name, ""); err != nil {
				return nil, x.writeFailed(v, err)
			}
		}
		for i := len(v.Add) - 1; i >= 0; i-- {
			if err := m.InsertHeader(0, v.Add[i].Name, v.Add[i].Value); err != nil {
				return nil, x.writeFailed(v, err)
			}
		}
		if v.Action == policy.Quarantine {
			reason := v.QuarantineReason
			if reason == "" {
				reason = "authmilter policy" // Sendmail refuses an empty reason
			}
			if err := m.Quarantine(reason); err != nil {
				return nil, x.writeFailed(v, err)
			}
		}
	}
	return x.finish(v), nil
}

// writeFailed logs a modification that could not be sent. Returning the
// error makes go-milter close the connection, and the MTA applies its
// milter_default_action (tempfail in our contrib files): the message is not
// delivered without our headers, and not lost.
func (x *session) writeFailed(v *policy.Verdict, err error) error {
	x.logVerdict(v, zap.Error(err), zap.String("problem", "could not send modifications to the MTA"))
	x.msg.Abort()
	x.msg = nil
	x.done = true
	x.inMessage.Store(false)
	return err
}

// finish logs the verdict, ends the transaction and returns the response.
func (x *session) finish(v *policy.Verdict) gomilter.Response {
	x.logVerdict(v)
	if x.msg != nil {
		// After Finish this is a no-op; after an early verdict (a header
		// section too large) it stops the SPF lookups and the DKIM work.
		x.msg.Abort()
	}
	x.msg = nil
	x.done = true
	x.inMessage.Store(false)
	switch v.Action {
	case policy.Reject, policy.Tempfail:
		return replyCode(v.Reply)
	}
	return gomilter.RespContinue
}

// replyCode builds an SMFIR_REPLYCODE response. Unlike SMFIR_REJECT and
// SMFIR_TEMPFAIL it carries our text and enhanced status code, and go-milter
// does not replace the session after it.
func replyCode(r policy.Reply) gomilter.Response {
	return gomilter.NewResponseStr(byte(gomilter.ActReplyCode), r.String())
}

func (x *session) Abort(m *gomilter.Modifier) error {
	x.reset("aborted by the MTA")
	return nil
}

// reset ends the current transaction, if any, keeping connection data.
func (x *session) reset(why string) {
	if x.msg != nil {
		x.msg.Abort()
		if why != "" {
			x.log.Debug("message abandoned", zap.String("queue_id", x.env.QueueID), zap.String("why", why))
		}
	}
	x.msg = nil
	x.done = false
	x.env = policy.Envelope{}
	x.mailAt = time.Time{}
	x.inMessage.Store(false)
}

// connClosed runs on the session goroutine when the connection ends.
func (x *session) connClosed() { x.reset("connection closed") }

// logVerdict writes the one line per message that administrators grep for.
// The field names are stable and documented in the README. It also hands
// the verdict to the Observer: this is the one place every verdict passes.
func (x *session) logVerdict(v *policy.Verdict, extra ...zap.Field) {
	if o := x.s.opts.Observer; o != nil {
		elapsed := v.Elapsed
		if !x.mailAt.IsZero() {
			elapsed = time.Since(x.mailAt)
		}
		o.Message(v, elapsed)
	}
	dkim := make([]string, 0, len(v.DKIM))
	for _, d := range v.DKIM {
		s := d.Result + " d=" + d.Domain + " s=" + d.Selector
		if d.Reason != "" {
			s += " (" + d.Reason + ")"
		}
		dkim = append(dkim, s)
	}
	fields := []zap.Field{
		zap.String("queue_id", x.env.QueueID),
		zap.String("client_ip", ipString(x.clientIP)),
		zap.String("client_name", x.clientName),
		zap.String("helo", x.helo),
		zap.String("mail_from", x.env.MailFrom),
		zap.String("header_from", v.HeaderFrom),
		zap.String("spf", string(v.SPF.Result)),
		zap.Strings("dkim", dkim),
		zap.String("action", string(v.Action)),
		zap.Duration("elapsed", v.Elapsed.Round(time.Microsecond)),
	}
	if v.HeloSPF != nil {
		fields = append(fields, zap.String("spf_helo", string(v.HeloSPF.Result)))
	}
	if d := v.DMARC; d != nil {
		fields = append(fields, zap.String("dmarc", d.Result.Result), zap.String("from_domain", d.FromDomain),
			zap.String("dmarc_policy", string(d.RequestedPolicy)), zap.String("dmarc_applied", string(d.Applied)))
		if len(d.Overrides) > 0 {
			ovs := make([]string, 0, len(d.Overrides))
			for _, o := range d.Overrides {
				ovs = append(ovs, o.Type+" ("+o.Comment+")")
			}
			fields = append(fields, zap.Strings("dmarc_overrides", ovs))
		}
	}
	if sg := v.Signing; sg != nil {
		signed := make([]string, 0, len(sg.Signatures))
		for _, sig := range sg.Signatures {
			signed = append(signed, sig.KeyName+" d="+sig.Domain+" s="+sig.Selector)
		}
		fields = append(fields, zap.Strings("signed", signed))
		if sg.Problem != "" {
			fields = append(fields, zap.String("sign_problem", sg.Problem))
		}
	}
	if v.Class != "" {
		fields = append(fields, zap.String("client_class", string(v.Class)))
	}
	fields = append(fields, zap.String("direction", v.Direction()))
	if x.env.AuthUser != "" {
		fields = append(fields, zap.String("auth_user", x.env.AuthUser))
	}
	if v.Action == policy.Reject || v.Action == policy.Tempfail {
		fields = append(fields, zap.String("reply", v.Reply.String()))
	}
	if len(v.Reasons) > 0 {
		fields = append(fields, zap.Strings("reasons", v.Reasons))
	}
	x.log.Info("message", append(fields, extra...)...)
}

func ipString(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}
