package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// SwaksMessage is one SMTP transaction for swaks to send through Postfix,
// presenting ClientAddr/ClientName/Helo to Postfix (and so to the milter)
// with XCLIENT.
type SwaksMessage struct {
	Server     string // "127.0.0.1:PORT" of a Postfix listener
	ClientAddr string // XCLIENT ADDR: "192.0.2.10" or "IPV6:2001:db8::25"
	ClientName string // XCLIENT NAME (reverse DNS name); "" sends [UNAVAILABLE]
	Helo       string // XCLIENT HELO, and swaks's own EHLO after XCLIENT
	Login      string // XCLIENT LOGIN: a SASL login name, {auth_authen} to milters; "" sends none
	From       string // MAIL FROM address; "" is the null sender <>
	To         string // RCPT TO address
	Data       []byte // the message, header and body (CRLF or LF line ends)
}

// Exchange is one command and the server's final reply to it.
type Exchange struct {
	Command string // the command line as sent ("MAIL FROM:<a@b>"), or "<message>" for the data
	Code    int    // the reply code (451)
	Reply   string // the reply's last line without the code ("4.4.3 ...")
}

// SwaksResult is what swaks did and saw.
type SwaksResult struct {
	ExitCode   int
	Transcript string     // swaks's complete output (stdout and stderr)
	Exchanges  []Exchange // every command with its reply, QUIT included
}

// Final returns the last exchange before QUIT: the accepted message's
// "250 2.0.0 Ok: queued as ..." or the first refusal, after which swaks
// gives up.
func (r *SwaksResult) Final() Exchange {
	for i := len(r.Exchanges) - 1; i >= 0; i-- {
		if !strings.EqualFold(r.Exchanges[i].Command, "QUIT") {
			return r.Exchanges[i]
		}
	}
	return Exchange{}
}

// Swaks sends m with swaks and parses its transcript. A refusal by the
// server is not an error (swaks exits non-zero, see ExitCode and Final);
// failing to run swaks or to understand its output is.
func Swaks(ctx context.Context, m SwaksMessage) (*SwaksResult, error) {
	args := []string{
		"--server", m.Server,
		"--protocol", "ESMTP",
		"--timeout", "60",
		"--xclient-addr", m.ClientAddr,
		"--xclient-helo", m.Helo,
		// After XCLIENT the server greets anew and swaks sends EHLO again
		// with its own name: give it the same name, or the milter would see
		// a different HELO from the one in XCLIENT.
		"--helo", m.Helo,
		"--from", m.From,
		"--to", m.To,
		"--data", "-",
	}
	if m.ClientName != "" {
		args = append(args, "--xclient-name", m.ClientName)
	}
	if m.Login != "" {
		args = append(args, "--xclient-login", m.Login)
	}
	if m.From == "" {
		// swaks reads "--from ''" as "use the default sender"; "<>" is how
		// it is told to send the null reverse-path.
		args[indexOf(args, "--from")+1] = "<>"
	}
	cmd := exec.CommandContext(ctx, swaksCmd, args...)
	// swaks ends the data with CRLF "." CRLF after whatever it was given,
	// so a message that already ends in a line break would gain an empty
	// line: hand it over without its last line break.
	data := bytes.TrimSuffix(bytes.TrimSuffix(m.Data, []byte("\n")), []byte("\r"))
	cmd.Stdin = bytes.NewReader(data)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	res := &SwaksResult{Transcript: out.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		res.ExitCode = ee.ExitCode()
	default:
		return res, fmt.Errorf("%w: running swaks: %v\n%s", ErrSMTP, err, res.Transcript)
	}
	res.Exchanges = parseSwaksTranscript(res.Transcript)
	if len(res.Exchanges) == 0 {
		return res, fmt.Errorf("%w: no SMTP exchange in swaks output (exit %d):\n%s", ErrSMTP, res.ExitCode, res.Transcript)
	}
	return res, nil
}

func indexOf(ss []string, s string) int {
	for i := range ss {
		if ss[i] == s {
			return i
		}
	}
	return -1
}

// parseSwaksTranscript pairs commands and replies in swaks's transcript.
// swaks prefixes what it sends with " -> ", what it receives with "<-  ",
// and a reply it considers a failure with "<** "; message lines are sent
// after a 354 reply, so the reply after them answers the message itself.
func parseSwaksTranscript(t string) []Exchange {
	var (
		out     []Exchange
		lastCmd string
		inData  bool
	)
	sc := bufio.NewScanner(strings.NewReader(t))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, " -> "):
			if !inData {
				lastCmd = strings.TrimPrefix(line, " -> ")
			}
		case strings.HasPrefix(line, "<-  "), strings.HasPrefix(line, "<** "):
			reply := line[4:]
			// Only the last line of a multi-line reply ("250 ..." rather
			// than "250-...") completes it.
			if len(reply) < 3 {
				continue
			}
			code, err := strconv.Atoi(reply[:3])
			if err != nil || (len(reply) > 3 && reply[3] == '-') {
				continue
			}
			text := strings.TrimSpace(reply[3:])
			cmd := lastCmd
			if inData {
				cmd, inData = "<message>", false
			}
			if code == 354 {
				inData = true
			}
			out = append(out, Exchange{Command: cmd, Code: code, Reply: text})
			lastCmd = ""
		}
	}
	return out
}
