// Package policy decides what happens to a message: it runs SPF (RFC 7208),
// DKIM (RFC 6376, RFC 8463, RFC 8301) and, in later stages, DMARC and
// signing, and turns the results into one Verdict: the action (accept,
// reject, tempfail, quarantine), the SMTP reply, the header fields to add
// (Authentication-Results per RFC 8601, Received-SPF per RFC 7208 §9.1) and
// the forged Authentication-Results fields to remove.
//
// policy does no I/O of its own except through the injected
// resolver.Resolver: the milter package turns the MTA's callbacks into calls
// on a Message and applies the Verdict, and the `authmilter verify` command
// drives exactly the same code from a file, so the CLI and the daemon cannot
// disagree.
//
// The sub-packages do one check each and know nothing of milters:
// policy/spf, policy/dkim and policy/authres.
package policy
