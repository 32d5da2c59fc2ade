// Package sendmail proves authmilter end to end behind a real Sendmail
// (Debian's sendmail-bin 8.17), configured with the lines an administrator
// pastes from contrib/sendmail/authmilter.mc.
//
// The tests run only when AUTHMILTER_SENDMAIL=1 is set: Sendmail conflicts
// with Postfix, which the rest of the e2e suite needs, so scripts/test
// installs Sendmail in a phase of its own after the main suite, runs this
// package, and puts Postfix back. With the variable set, a missing Sendmail
// is a failure, not a skip.
//
// Each run starts a private Sendmail (its own .cf built with m4 from the
// contrib lines, queue, pid and status files in a temporary directory) in a
// private UTS and mount namespace: a dotted host name there spares the 60 s
// "unqualified host name" sleep, and an instance-only resolv.conf keeps
// Sendmail's PTR lookups of clients off the machine's resolvers. Sendmail
// has no XCLIENT, so the tests present clients by their source address on
// loopback: 127.0.0.1 is the internal network, 127.0.0.2 and 127.0.0.3 are
// outside clients. Sendmail relays everything to an SMTP sink (e2e.Sink);
// authmilter resolves against a loopback DNS server (resolver/dnstest).
package sendmail
