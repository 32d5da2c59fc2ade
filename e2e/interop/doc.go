// Package interop holds authmilter's DKIM signatures (RFC 6376; Ed25519,
// RFC 8463) against independent implementations, in both directions:
//
//   - what `authmilter sign` signs must verify with dkimpy (Debian
//     python3-dkim) and with OpenDKIM (the opendkim filter);
//   - what dkimpy's dkimsign and OpenDKIM sign must verify with
//     `authmilter verify`;
//
// for RSA and Ed25519 keys and both canonicalizations, with a changed body
// as the negative control each time. Every party looks the keys up over
// real DNS at the same loopback server (resolver/dnstest serving a
// resolver.Fake zone), never at the machine's resolvers: dkimpy's own
// dkimverify program runs with dnspython's default resolver pointed at it
// (dnspython reads no environment variable for this), and OpenDKIM gets
// it as "Nameservers IP@PORT", which its resolver (libunbound) takes.
//
// The package also checks the key tooling: `authmilter keygen` output
// (files, modes, zone-file line, record value), `authmilter testkey`
// against published, mismatched and missing records, the sign → verify
// round trip of the CLI, who `authmilter sign` signs for, and signing from
// OpenDKIM SigningTable/KeyTable files.
//
// The tests need the Debian packages python3-dkim, opendkim and
// opendkim-tools (scripts/test installs them) but not root or Postfix; the
// end-to-end signing tests through Postfix are in package e2e. Without the
// packages the tests skip, except under CI=true, where that is a failure.
//
// What the peers do not support, as installed on Debian 12:
//   - opendkim-testmsg signs with rsa-sha1 only (no option for the
//     algorithm) and fails on Ed25519 keys, so OpenDKIM signs here through
//     the filter's test mode; its rsa-sha1 output is used to check that
//     authmilter refuses rsa-sha1 (RFC 8301 §3.1);
//   - OpenDKIM 2.11.0~beta2 makes Ed25519 signatures with simple header
//     canonicalization that no verifier accepts (OpenDKIM itself, dkimpy
//     and authmilter all fail them); that case holds authmilter to
//     dkimpy's verdict instead of to "pass".
package interop
