package policy

import (
	"fmt"
	"time"

	"github.com/authmilter/authmilter/policy/dkim"
	"github.com/authmilter/authmilter/policy/spf"
)

// Action is what the MTA is told to do with the message. The values are the
// words used in logs and in the `verify` command's output.
type Action string

const (
	// Accept delivers the message, with the header changes of the Verdict.
	Accept Action = "accept"
	// Reject refuses the message with a 5xx reply (Verdict.Reply).
	Reject Action = "reject"
	// Tempfail refuses the message with a 4xx reply (Verdict.Reply); the
	// sending MTA keeps it and retries, so nothing is lost.
	Tempfail Action = "tempfail"
	// Quarantine accepts the message into the MTA's hold queue.
	Quarantine Action = "quarantine"
)

// Reply is an SMTP reply with an enhanced status code (RFC 3463).
type Reply struct {
	Code     int    // 451, 550, 552, ...
	Enhanced string // "4.4.3", "5.7.1", ...
	Text     string // short, generic; details go to the log, not to the sender
}

// String formats the reply as the milter protocol's SMFIR_REPLYCODE wants it.
func (r Reply) String() string {
	return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text)
}

// Field is a header field to add. Value is the field body without the
// leading space after the colon, folded with CRLF + WSP where long; the MTA
// writes "Name: Value".
type Field struct {
	Name  string
	Value string
}

// HeaderRef names one existing header field by name and 1-based index among
// the fields of that name, as the milter protocol's SMFIR_CHGHEADER wants it.
type HeaderRef struct {
	Name  string
	Index int
}

// Verdict is everything policy decided about one message. The milter applies
// it; `authmilter verify` prints it. Later stages (DMARC, signing, reporting)
// add fields here instead of reshaping it.
type Verdict struct {
	Action Action
	// Reply is set for Reject and Tempfail.
	Reply Reply
	// QuarantineReason is set for Quarantine.
	QuarantineReason string
	// Add lists the fields to prepend to the header, top to bottom.
	Add []Field
	// Remove lists forged Authentication-Results fields carrying our
	// authserv-id (RFC 8601 §5), highest index first so that deleting one
	// never shifts the index of the next.
	Remove []HeaderRef

	// SPF is the MAIL FROM identity's result (for the null sender, the
	// postmaster@HELO identity, RFC 7208 §2.4); DMARC uses this one.
	SPF spf.Outcome
	// HeloSPF is the HELO identity's result (RFC 7208 §2.3), when checked.
	HeloSPF *spf.Outcome
	// DKIM holds one result per DKIM-Signature, in header order.
	DKIM []dkim.Result
	// HeaderFrom is the From field's value as received, for logs.
	HeaderFrom string
	// Class says who the client was to us (inbound, internal, ...).
	Class Class
	// DMARC is the DMARC outcome and what local policy made of it; nil
	// only for a message refused before it was judged.
	DMARC *DMARCVerdict
	// Report is the message's row for DMARC aggregate reports.
	Report *ReportRecord
	// Signing is set for outbound mail: what was signed, with which keys.
	// Outbound mail is signed; everything else is verified.
	Signing *Signing
	// Reasons says why the action was chosen, for the log line.
	Reasons []string
	// Elapsed is the time from Begin to Finish.
	Elapsed time.Duration
}

// Direction is "outbound" for mail we signed (or tried to), "inbound" for
// mail we verified: the word logs and metrics use.
func (v *Verdict) Direction() string {
	if v.Signing != nil {
		return "outbound"
	}
	return "inbound"
}

// DNSTempError reports whether any check ended in temperror, which is what
// the on_dns_error setting acts upon.
func (v *Verdict) DNSTempError() bool {
	if v.SPF.Result == spf.TempError || (v.HeloSPF != nil && v.HeloSPF.Result == spf.TempError) {
		return true
	}
	for _, d := range v.DKIM {
		if d.Result == "temperror" {
			return true
		}
	}
	return false
}
