// Package e2e runs authmilter behind a real Postfix, the way a mail
// administrator deploys it, and checks what arrives at the next hop.
//
// The harness in this package (non-test files, so that later end-to-end
// suites can share it) starts:
//
//   - a private Postfix instance (Postfix, StartPostfix) with its own
//     configuration, queue and data directories in a temporary directory,
//     loopback listeners on ports of its own, and the milter settings taken
//     verbatim from contrib/postfix, so that the snippets we ship are the
//     ones under test;
//   - an SMTP sink (Sink, StartSink) that Postfix relays every message to,
//     keeping the raw bytes for the test to inspect;
//   - the authmilter binary, built once per package run (BuildAuthmilter)
//     and run as `authmilter serve` (StartDaemon) against a DNS server that
//     serves a resolver.Fake zone (resolver/dnstest); two of the daemons
//     sign (a [signing] section with key files the harness writes, mode
//     0600), behind listeners for submission (ORIGINATING) and for
//     internal and authenticated (XCLIENT LOGIN) clients;
//   - SMTP clients that present any client address and HELO name through
//     Postfix's XCLIENT extension (Postfix XCLIENT_README; no RFC): swaks
//     (Swaks) for single messages, and a small client of our own (Client)
//     for several transactions in one session, which swaks cannot do;
//   - a Reaper, which stops Postfix and removes the temporary directories
//     if the test process dies without cleaning up (a panic, -timeout).
//
// The interoperability tests with other DKIM implementations (dkimpy,
// OpenDKIM), which need no Postfix, are in the subpackage e2e/interop and
// use this harness's binary build, configuration writer and CLI runner.
//
// Nothing starts until the first test that needs it, so the parser tests
// and fuzzing workers run without Postfix. The tests need the Debian
// packages postfix and swaks (scripts/test installs them) and root, because
// Postfix's master daemon starts as root and drops to mail_owner = postfix.
// Without them the tests skip, except under CI=true, where a missing tool is
// a failure: CI must never go green by skipping the end-to-end suite.
package e2e
