package sign

import "strings"

// Profile names accepted in Options.Profile.
const (
	ProfileDefault = "default"
	ProfileMinimal = "minimal"
)

// defaultHeaders is the "default" profile, after RFC 6376 §5.4.1. Each field
// is signed (once per instance present) only when the message has it; List-*
// fields are added after these when present.
//
//   - From: RFC 6376 §5.4 MUST; it is what DMARC aligns with and what the
//     reader sees as the author.
//   - To, Cc: the addressees the author chose; forwarding keeps them.
//   - Subject: what the reader sees next to From; replaying a signed message
//     under a new subject is the classic abuse. Lists that tag subjects
//     break it: use "minimal" for list-heavy domains.
//   - Date, Message-ID: bind the signature to one message instance, so a
//     replay cannot pose as a new message and threading cannot be spoofed.
//   - MIME-Version, Content-Type: the MIME structure decides how the signed
//     body is displayed; unsigned, a new Content-Type (another boundary or
//     charset) can make the same signed octets show something else.
//   - Reply-To: where answers go; an attacker who could add or change it
//     would harvest replies under a valid signature.
//   - In-Reply-To, References: the thread the message claims to belong to.
//   - List-* (RFC 2369, RFC 2919, RFC 8058) when present: an author-side
//     List-Unsubscribe / List-Unsubscribe-Post pair must be signed for
//     one-click unsubscription (RFC 8058 §4). A list re-signs its own
//     List-* fields, so signing ours costs nothing for lists.
//
// Not signed on purpose: Content-Transfer-Encoding (relays may downgrade
// 8bit to quoted-printable, which breaks the body hash anyway, and signing
// it adds nothing), Sender (lists replace it), and everything in
// neverSign.
var defaultHeaders = []string{
	"From", "To", "Cc", "Subject", "Date", "Message-ID",
	"MIME-Version", "Content-Type", "Reply-To", "In-Reply-To", "References",
}

// minimalHeaders is the "minimal" profile, for domains whose mail mostly
// goes through mailing lists. Lists (Mailman, Sympa, Google Groups) rewrite
// Subject (a "[list]" tag), often Reply-To (reply-to-list, DMARC munging),
// wrap or re-encode the body to add a footer (which changes Content-Type),
// and replace List-* fields. None of those are signed here, so a list that
// does not touch the body keeps the signature valid and DMARC can pass
// through the list. What stays signed is what identifies the author and the
// message and what no list has a reason to change: From (RFC 6376 §5.4
// MUST), To, Cc, Date, Message-ID, In-Reply-To, References and
// MIME-Version (lists that wrap a message in multipart keep an existing
// MIME-Version and only add one when absent, which an unsigned absence
// allows). The price is that Subject and Reply-To are not protected.
var minimalHeaders = []string{
	"From", "To", "Cc", "Date", "Message-ID", "In-Reply-To", "References", "MIME-Version",
}

// neverSign reports whether name must stay out of h= whatever the options
// say. RFC 6376 §5.4 says signers SHOULD NOT sign fields likely to be
// modified or removed in transit:
//   - Received and Return-Path are trace fields (RFC 5321 §4.4) added and
//     rewritten by every hop after us;
//   - DKIM-Signature: a signature covering other signatures breaks when one
//     of them is removed, and ours is added after hashing (RFC 6376 §3.7);
//   - Authentication-Results (RFC 8601 §5: removed or replaced at ADMD
//     borders) and ARC-* (RFC 8617, added by intermediaries) are rewritten
//     downstream;
//   - X-* fields are local trace and spam-filter annotations that relays
//     add, strip and rewrite freely (X-Spam-*, X-Originating-IP, ...).
func neverSign(name string) bool {
	switch strings.ToLower(name) {
	case "received", "return-path", "dkim-signature", "authentication-results":
		return true
	}
	return hasPrefixFold(name, "x-") || hasPrefixFold(name, "arc-")
}

// validName reports whether name is an RFC 5322 §3.6.8 field name
// (printable US-ASCII but colon). Others cannot be written in h= without
// corrupting it, and no verifier could match them.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// oversign returns the names signed once more than they occur: nil means
// From (RFC 6376 §8.15), an empty non-nil slice none.
func (o Options) oversign() []string {
	if o.Oversign == nil {
		return []string{"From"}
	}
	return o.Oversign
}

// HeaderList returns the h= list (RFC 6376 §3.5) for a message whose header
// fields are named present (in message order, repeats included).
//
// The base list is o.Headers when non-empty, else the profile's (see
// defaultHeaders and minimalHeaders; an unknown profile reads as default,
// Options.Validate reports it). From is always part of it (RFC 6376 §5.4).
// Every base name is listed as many times as the message has that field, so
// that all instances are signed (RFC 6376 §5.4.2); names the message lacks
// are left out. The default profile then adds each List-* field present.
// Each name in o.Oversign (nil: From) is listed once more than it occurs,
// also when it does not occur at all: the extra entry signs the absence of
// a further instance, so a field of that name added after signing makes
// verification fail (RFC 6376 §5.4.2, §8.15).
//
// The order is stable: base names in list order, List-* in order of
// appearance, then oversigned names not already listed. Fields in neverSign
// and names that are not RFC 5322 field names are dropped from every
// input. Names are matched case-insensitively and written as spelled in
// the list (List-* as spelled in the message).
func HeaderList(o Options, present []string) []string {
	count := make(map[string]int, len(present))
	for _, p := range present {
		count[strings.ToLower(strings.TrimSpace(p))]++
	}
	extra := make(map[string]int)
	var order []string // distinct names, first spelling wins
	add := func(name string) {
		name = strings.TrimSpace(name)
		if !validName(name) || neverSign(name) {
			return
		}
		key := strings.ToLower(name)
		if _, seen := extra[key]; seen {
			return
		}
		extra[key] = 0
		order = append(order, name)
	}
	base := o.Headers
	if len(base) == 0 {
		base = defaultHeaders
		if o.Profile == ProfileMinimal {
			base = minimalHeaders
		}
	}
	add("From")
	for _, h := range base {
		add(h)
	}
	if len(o.Headers) == 0 && o.Profile != ProfileMinimal {
		for _, p := range present {
			if hasPrefixFold(strings.TrimSpace(p), "list-") {
				add(p)
			}
		}
	}
	for _, h := range o.oversign() {
		add(h)
		if key := strings.ToLower(strings.TrimSpace(h)); validName(key) && !neverSign(key) {
			extra[key] = 1
		}
	}
	var out []string
	for _, name := range order {
		key := strings.ToLower(name)
		for range count[key] + extra[key] {
			out = append(out, name)
		}
	}
	return out
}
