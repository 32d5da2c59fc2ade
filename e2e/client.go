package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// Client is a minimal SMTP client (RFC 5321) that can do what swaks cannot:
// several mail transactions in one session, after one XCLIENT. It keeps a
// transcript of everything sent and received for failure reports.
type Client struct {
	conn       net.Conn
	text       *textproto.Conn
	transcript strings.Builder
}

// Dial connects to addr and reads the greeting. The whole session must end
// before ctx's deadline.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSMTP, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	}
	c := &Client{conn: conn, text: textproto.NewConn(conn)}
	if _, err := c.expect(220, ""); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Transcript returns the session so far, "C: " for what we sent and "S: "
// for the server's replies.
func (c *Client) Transcript() string { return c.transcript.String() }

// Close closes the connection without QUIT.
func (c *Client) Close() error { return c.conn.Close() }

// expect sends cmd (unless empty) and reads the reply, which must have code
// want; the reply is returned either way, with an error on a mismatch.
func (c *Client) expect(want int, cmd string) (Exchange, error) {
	if cmd != "" {
		fmt.Fprintf(&c.transcript, "C: %s\n", cmd)
		if err := c.text.PrintfLine("%s", cmd); err != nil {
			return Exchange{Command: cmd}, fmt.Errorf("%w: sending %q: %v", ErrSMTP, cmd, err)
		}
	}
	code, msg, err := c.text.ReadResponse(0)
	for _, l := range strings.Split(msg, "\n") {
		fmt.Fprintf(&c.transcript, "S: %d %s\n", code, l)
	}
	lines := strings.Split(msg, "\n")
	ex := Exchange{Command: cmd, Code: code, Reply: lines[len(lines)-1]}
	if err != nil && code == 0 {
		return ex, fmt.Errorf("%w: reading the reply to %q: %v", ErrSMTP, cmd, err)
	}
	if code != want {
		return ex, fmt.Errorf("%w: %q: want %d, got %d %s", ErrSMTP, cmd, want, code, ex.Reply)
	}
	return ex, nil
}

// Hello sends EHLO, then XCLIENT (Postfix XCLIENT_README) to present
// clientAddr ("192.0.2.10" or "IPV6:2001:db8::1"), clientName and helo as
// the client, and EHLO again with helo, as the new greeting requires.
func (c *Client) Hello(clientAddr, clientName, helo string) error {
	if _, err := c.expect(250, "EHLO client.test"); err != nil {
		return err
	}
	if clientName == "" {
		clientName = "[UNAVAILABLE]"
	}
	if _, err := c.expect(220, fmt.Sprintf("XCLIENT ADDR=%s NAME=%s HELO=%s", clientAddr, clientName, helo)); err != nil {
		return err
	}
	_, err := c.expect(250, "EHLO "+helo)
	return err
}

// Send runs one mail transaction and returns the reply to the message (or
// to the first command that was refused). A refusal is reported in the
// Exchange, not as an error; after one, Send resets the transaction with
// RSET so the session can go on.
func (c *Client) Send(from string, to []string, data []byte) (Exchange, error) {
	ex, err := c.expect(250, "MAIL FROM:<"+from+">")
	if err != nil {
		return c.refused(ex, err)
	}
	for _, r := range to {
		if ex, err = c.expect(250, "RCPT TO:<"+r+">"); err != nil {
			return c.refused(ex, err)
		}
	}
	if ex, err = c.expect(354, "DATA"); err != nil {
		return c.refused(ex, err)
	}
	w := c.text.DotWriter()
	// DotWriter turns "\n" into CRLF and dot-stuffs; give it LF lines so a
	// CRLF message is not doubled into CR CR LF.
	if _, err := w.Write(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))); err != nil {
		return Exchange{Command: "<message>"}, fmt.Errorf("%w: writing the message: %v", ErrSMTP, err)
	}
	if err := w.Close(); err != nil {
		return Exchange{Command: "<message>"}, fmt.Errorf("%w: ending the message: %v", ErrSMTP, err)
	}
	fmt.Fprintf(&c.transcript, "C: <message, %d bytes>\n", len(data))
	ex, err = c.expect(250, "")
	ex.Command = "<message>"
	if err != nil {
		return c.refused(ex, err)
	}
	return ex, nil
}

// refused turns a refusal into a result and resets the transaction; a
// protocol or connection failure stays an error.
func (c *Client) refused(ex Exchange, err error) (Exchange, error) {
	if ex.Code < 400 {
		return ex, err
	}
	if _, rerr := c.expect(250, "RSET"); rerr != nil {
		return ex, rerr
	}
	return ex, nil
}

// Quit ends the session politely.
func (c *Client) Quit() error {
	_, err := c.expect(221, "QUIT")
	c.conn.Close()
	return err
}
