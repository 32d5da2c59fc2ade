package policy

import (
	"strings"

	"github.com/authmilter/authmilter/keystore"
	"github.com/authmilter/authmilter/policy/msghdr"
	"github.com/authmilter/authmilter/policy/sign"
)

// KeyLookup finds the keys that sign mail from an author address: the
// signing table. *keystore.Set implements it. The engine holds one for its
// whole life, so a reload (a new Engine) swaps keys atomically: a message
// is signed entirely with the old or entirely with the new key set.
type KeyLookup interface {
	Lookup(from string) (keys []*keystore.Key, rule string)
}

// SigningOptions decide who gets signed and how (RFC 6376 §5).
type SigningOptions struct {
	// Keys is the signing table; nil disables signing, and outbound mail
	// is verified like any other.
	Keys KeyLookup
	// DaemonNames are MTA listener names ({daemon_name}) whose mail is
	// outbound, e.g. Postfix's submission service with
	// milter_macro_daemon_name=ORIGINATING.
	DaemonNames []string
	// Sign is how signatures are made: canonicalization, header list,
	// oversigning, expiry.
	Sign sign.Options
	// AcceptKeyMissing delivers unsigned mail when a signing rule matched
	// but gave no usable key; AcceptSignError when signing itself failed.
	// By default both tempfail: mail never leaves unsigned silently.
	AcceptKeyMissing, AcceptSignError bool
}

// outbound reports whether the message is ours to sign: the client
// authenticated, is in internal_networks, or came in through a listener
// named in DaemonNames. Nothing else — in particular not the From field,
// which anyone can write — makes mail outbound.
func (e *Engine) outbound(env Envelope, class Class) bool {
	if e.opts.Signing.Keys == nil {
		return false
	}
	if class == Authenticated || class == Internal {
		return true
	}
	if class == Relay || class == Forwarder {
		return false
	}
	for _, n := range e.opts.Signing.DaemonNames {
		if env.DaemonName != "" && strings.EqualFold(env.DaemonName, n) {
			return true
		}
	}
	return false
}

// Signing is what happened to an outbound message, for the log line.
type Signing struct {
	Rule       string   // the signing rule that matched, "" if none
	Keys       []string // key names used
	Signatures []sign.Signature
	Problem    string // why it was not signed, if it was not
}

// startSigning looks up the keys for the message's author and starts one
// signing session over the header fields seen so far. It runs at the end of
// the header section, when From is known.
func (m *Message) startSigning() {
	var froms []string
	for _, h := range m.headers {
		if strings.EqualFold(h.Name, "From") {
			froms = append(froms, h.Value)
		}
	}
	a := msghdr.ParseFrom(froms)
	m.signing = &Signing{}
	if len(a.List) == 0 || a.List[0].Domain == "" {
		// RFC 6376 §5.4: From must be signed; without an author domain
		// there is no rule to match and nothing to sign as. Like mail that
		// no rule matches, it goes out unsigned with a log line: a retry
		// could never change it (a scanner's "From: root").
		m.signing.Problem = "no author domain in From: " + problemText(a)
		return
	}
	from := a.List[0].Local + "@" + a.List[0].Domain
	keys, rule := m.e.opts.Signing.Keys.Lookup(from)
	m.signing.Rule = rule
	if rule == "" {
		m.signing.Problem = "no signing rule for " + from
		return
	}
	if len(keys) == 0 {
		m.keyMissing = true
		m.signing.Problem = "signing rule " + rule + " gave no usable key"
		return
	}
	for _, k := range keys {
		m.signing.Keys = append(m.signing.Keys, k.Name)
	}
	m.signer = sign.NewSession(keys, m.e.opts.Signing.Sign)
	for _, h := range m.headers {
		m.signer.Header(rawField(h.Name, h.Value))
	}
	if err := m.signer.EndHeaders(); err != nil {
		m.signErr = err
		m.signer.Abort()
		m.signer = nil
	}
}

// finishSigning closes the signing session and turns the outcome into the
// verdict: signature fields to add, or the configured failure action.
func (m *Message) finishSigning(v *Verdict) {
	o := m.e.opts.Signing
	v.Signing = m.signing
	if m.signer != nil {
		sigs, err := m.signer.Close()
		m.signer = nil
		if err != nil {
			m.signErr = err
		} else {
			m.signing.Signatures = sigs
			// Prepended in key order; each is a complete field value.
			fields := make([]Field, 0, len(sigs))
			for _, s := range sigs {
				fields = append(fields, Field{Name: "DKIM-Signature", Value: s.Value})
			}
			v.Add = append(fields, v.Add...)
			return
		}
	}
	switch {
	case m.signErr != nil:
		m.signing.Problem = m.signErr.Error()
		if !o.AcceptSignError {
			v.Action = Tempfail
			v.Reply = Reply{Code: 451, Enhanced: "4.7.0", Text: "Cannot sign the message now, try again later"}
		}
		v.Reasons = append(v.Reasons, "signing failed: "+m.signErr.Error())
	case m.keyMissing:
		if !o.AcceptKeyMissing {
			v.Action = Tempfail
			v.Reply = Reply{Code: 451, Enhanced: "4.7.0", Text: "No signing key available, try again later"}
		}
		v.Reasons = append(v.Reasons, m.signing.Problem)
	default:
		v.Reasons = append(v.Reasons, "not signed: "+m.signing.Problem)
	}
}
