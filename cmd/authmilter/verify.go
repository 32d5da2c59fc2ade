package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/authmilter/authmilter/policy"
)

// cmdVerify judges one message read from stdin with the same policy code as
// the daemon, and prints the header fields the daemon would add. It is the
// tool for "why did this message get that result?" and for scripted tests.
func cmdVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flagSet("verify", stderr)
	path := fs.String("c", "", "configuration `FILE` (default: built-in defaults)")
	clientIP := fs.String("client-ip", "", "the SMTP client's `IP` address")
	helo := fs.String("helo", "", "the HELO/EHLO `NAME` the client gave")
	mailFrom := fs.String("mail-from", "", "the envelope sender `ADDR` (\"\" is the null sender)")
	authUser := fs.String("auth-user", "", "the SMTP AUTH `USER`, if the client authenticated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: authmilter verify [-c FILE] --client-ip IP --helo NAME --mail-from ADDR < message")
		return 2
	}
	var ip net.IP
	if *clientIP != "" {
		if ip = net.ParseIP(strings.TrimPrefix(*clientIP, "IPv6:")); ip == nil {
			fmt.Fprintf(stderr, "authmilter verify: --client-ip %q is not an IP address\n", *clientIP)
			return 2
		}
	}
	eng, code := engineFor("verify", *path, stderr)
	if eng == nil {
		return code
	}
	m := eng.Begin(context.Background(), policy.Envelope{
		ClientIP: ip,
		Helo:     *helo,
		MailFrom: strings.TrimSuffix(strings.TrimPrefix(*mailFrom, "<"), ">"),
		AuthUser: *authUser,
	})
	v, err := feedMessage(m, stdin)
	if err != nil {
		m.Abort()
		fmt.Fprintln(stderr, "authmilter verify:", err)
		return 1
	}
	printVerdict(stdout, stderr, v)
	return 0
}

// printVerdict writes the fields to add on stdout, exactly as they would
// appear in the message, and the action and anything removed on stderr.
func printVerdict(stdout, stderr io.Writer, v *policy.Verdict) {
	for _, f := range v.Add {
		fmt.Fprintf(stdout, "%s: %s\r\n", f.Name, f.Value)
	}
	for _, r := range v.Remove {
		fmt.Fprintf(stderr, "would remove %s #%d (carries our authserv-id)\n", r.Name, r.Index)
	}
	switch v.Action {
	case policy.Reject, policy.Tempfail:
		fmt.Fprintf(stderr, "action: %s (%s)\n", v.Action, v.Reply)
	case policy.Quarantine:
		fmt.Fprintf(stderr, "action: %s (%s)\n", v.Action, v.QuarantineReason)
	default:
		fmt.Fprintf(stderr, "action: %s\n", v.Action)
	}
}
