package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/authmilter/authmilter/policy"
)

// cmdSign signs one message read from stdin with the daemon's own code and
// prints it with the signature field(s) added. The message is judged as
// coming from --client-ip (default 127.0.0.1, inside the default
// internal_networks) and --auth-user, so the signing decision is the
// daemon's too: a client that would not be signed is not signed here.
func cmdSign(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flagSet("sign", stderr)
	path := fs.String("c", "", "configuration `FILE`")
	clientIP := fs.String("client-ip", "127.0.0.1", "the submitting client's `IP` address")
	authUser := fs.String("auth-user", "", "the SMTP AUTH `USER`, if the client authenticated")
	daemon := fs.String("daemon-name", "", "the MTA listener `NAME` ({daemon_name})")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: authmilter sign -c FILE [--client-ip IP] [--auth-user U] < message")
		return 2
	}
	ip := net.ParseIP(strings.TrimPrefix(*clientIP, "IPv6:"))
	if ip == nil {
		fmt.Fprintf(stderr, "authmilter sign: --client-ip %q is not an IP address\n", *clientIP)
		return 2
	}
	eng, code := engineFor("sign", *path, stderr)
	if eng == nil {
		return code
	}
	// The message is streamed through the signer and, at the same time,
	// into a temporary file from which it is printed after the signature:
	// nothing holds it whole in memory.
	tmp, err := os.CreateTemp("", "authmilter-sign-*")
	if err != nil {
		fmt.Fprintln(stderr, "authmilter sign:", err)
		return 1
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	m := eng.Begin(context.Background(), policy.Envelope{ClientIP: ip, AuthUser: *authUser, DaemonName: *daemon})
	v, err := feedMessage(m, io.TeeReader(stdin, tmp))
	if err != nil {
		m.Abort()
		fmt.Fprintln(stderr, "authmilter sign:", err)
		return 1
	}
	if v.Signing == nil {
		fmt.Fprintf(stderr, "authmilter sign: not signed: the client is not one whose mail is signed (%s)\n", v.Class)
		return 1
	}
	if v.Action != policy.Accept {
		fmt.Fprintf(stderr, "authmilter sign: %s (%s): %s\n", v.Action, v.Reply, strings.Join(v.Reasons, "; "))
		return 1
	}
	if len(v.Signing.Signatures) == 0 {
		fmt.Fprintf(stderr, "authmilter sign: not signed: %s\n", v.Signing.Problem)
		return 1
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		fmt.Fprintln(stderr, "authmilter sign:", err)
		return 1
	}
	// An mbox "From " separator (skipped by feedMessage) stays first: the
	// signatures belong to the header, below it.
	rest := bufio.NewReader(tmp)
	if first, err := rest.Peek(5); err == nil && string(first) == "From " {
		line, _ := rest.ReadString('\n')
		io.WriteString(stdout, line)
	}
	for _, f := range v.Add {
		fmt.Fprintf(stdout, "%s: %s\r\n", f.Name, f.Value)
	}
	if _, err := io.Copy(stdout, rest); err != nil {
		fmt.Fprintln(stderr, "authmilter sign:", err)
		return 1
	}
	return 0
}
