// Command authmilter is an SPF, DKIM and DMARC milter for Postfix and
// Sendmail. This file only parses the command line and dispatches; the work
// is in packages config, resolver, policy and milter.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand: its usage line, a one-line summary, and the
// function that runs it and returns the process exit status.
type command struct {
	usage   string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands is the table of subcommands, keyed by their words.
var commands = map[string]command{
	"serve":        {"serve [-c FILE]", "run the milter daemon (built-in defaults without -c)", cmdServe},
	"config check": {"config check -c FILE", "check a configuration file and print every error", cmdConfigCheck},
	"verify": {"verify [-c FILE] --client-ip IP --helo NAME --mail-from ADDR < message",
		"judge one message as the daemon would and print the header fields it would add", cmdVerify},
	"version": {"version", "print the version", cmdVersion},
	"sign": {"sign -c FILE [--client-ip IP] [--auth-user U] < message",
		"sign one message as the daemon would and print it with its signature(s)", cmdSign},
	"testkey": {"testkey -c FILE [-d DOMAIN]",
		"check every signing key against its DNS record (found, matching, DNSSEC)", cmdTestkey},
	"health": {"health [-url URL]", "exit 0 if the daemon's /healthz answers 200 (default " + defaultHealthURL + ")", cmdHealth},
	"keygen": {"keygen -d DOMAIN -s SELECTOR [-t rsa|ed25519] [-b BITS] [-o DIR]",
		"write a DKIM key pair: SELECTOR.private and the DNS record SELECTOR.txt", cmdKeygen},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	// Two-word commands first ("config check"), then one-word ones.
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c.run(args[2:], stdin, stdout, stderr)
		}
	}
	if c, ok := commands[args[0]]; ok {
		return c.run(args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "authmilter: unknown command %q\n\n", strings.Join(args, " "))
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: authmilter COMMAND [options]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s\n      %s\n", commands[n].usage, commands[n].summary)
	}
}
