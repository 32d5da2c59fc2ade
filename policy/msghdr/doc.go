// Package msghdr parses the two header fields that authentication policy
// must read from the message itself, and does so defensively: the values
// come from the Internet, arrive exactly as the MTA passes them to the
// milter (folded with CRLF or bare LF, possibly raw 8-bit, possibly
// arbitrary bytes) and are used to make security decisions.
//
//   - ParseFrom extracts the author addresses and author domains from the
//     From fields (RFC 5322 §3.4, §3.6.2; RFC 6532; RFC 7489 §6.6.1 and
//     RFC 9989 "Author Domain"). It never fails: every oddity is reported
//     as a Problem so that the caller can reject with a reason or evaluate
//     every author domain and take the strictest result. An address is
//     never taken out of an RFC 2047 encoded word or out of a quoted display
//     name of a well-formed field, because a conforming reader never would.
//
//   - ParseReceived extracts the SMTP client IP address, HELO name and
//     reverse DNS name from the time-stamp line (RFC 5321 §4.4, RFC 5322
//     §3.6.7) that one of our own border relays wrote, so that checks can
//     run against the original client rather than the relay.
//
// Both parsers run in time linear in the size of their input.
package msghdr
