package sendmail

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/authmilter/authmilter/e2e"
)

// client is a minimal SMTP client (RFC 5321) that connects from a chosen
// loopback source address: Sendmail has no XCLIENT, so the source address
// is how a test presents an outside or an internal client. It keeps a
// transcript for failure reports.
type client struct {
	conn       net.Conn
	text       *textproto.Conn
	transcript strings.Builder
}

// dial connects from srcIP to addr, reads the greeting and says EHLO helo.
func dial(ctx context.Context, srcIP, addr, helo string) (*client, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcIP)}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", e2e.ErrSMTP, err)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(2 * time.Minute)
	}
	_ = conn.SetDeadline(dl)
	c := &client{conn: conn, text: textproto.NewConn(conn)}
	if _, err := c.expect(220, ""); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := c.expect(250, "EHLO "+helo); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *client) expect(want int, cmd string) (e2e.Exchange, error) {
	if cmd != "" {
		fmt.Fprintf(&c.transcript, "C: %s\n", cmd)
		if err := c.text.PrintfLine("%s", cmd); err != nil {
			return e2e.Exchange{Command: cmd}, fmt.Errorf("%w: sending %q: %v", e2e.ErrSMTP, cmd, err)
		}
	}
	code, msg, err := c.text.ReadResponse(0)
	lines := strings.Split(msg, "\n")
	for _, l := range lines {
		fmt.Fprintf(&c.transcript, "S: %d %s\n", code, l)
	}
	ex := e2e.Exchange{Command: cmd, Code: code, Reply: lines[len(lines)-1]}
	if err != nil && code == 0 {
		return ex, fmt.Errorf("%w: reading the reply to %q: %v", e2e.ErrSMTP, cmd, err)
	}
	if code != want {
		return ex, fmt.Errorf("%w: %q: want %d, got %d %s", e2e.ErrSMTP, cmd, want, code, ex.Reply)
	}
	return ex, nil
}

// send runs one mail transaction and returns the reply to the message, or
// to the first command refused (then the transaction is reset with RSET).
// A refusal is a result, not an error.
func (c *client) send(from, to string, data []byte) (e2e.Exchange, error) {
	steps := []struct {
		want int
		cmd  string
	}{{250, "MAIL FROM:<" + from + ">"}, {250, "RCPT TO:<" + to + ">"}, {354, "DATA"}}
	for _, st := range steps {
		if ex, err := c.expect(st.want, st.cmd); err != nil {
			return c.refused(ex, err)
		}
	}
	w := c.text.DotWriter()
	if _, err := w.Write(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))); err != nil {
		return e2e.Exchange{Command: "<message>"}, fmt.Errorf("%w: writing the message: %v", e2e.ErrSMTP, err)
	}
	if err := w.Close(); err != nil {
		return e2e.Exchange{Command: "<message>"}, fmt.Errorf("%w: ending the message: %v", e2e.ErrSMTP, err)
	}
	fmt.Fprintf(&c.transcript, "C: <message, %d bytes>\n", len(data))
	ex, err := c.expect(250, "")
	ex.Command = "<message>"
	if err != nil {
		return c.refused(ex, err)
	}
	return ex, nil
}

func (c *client) refused(ex e2e.Exchange, err error) (e2e.Exchange, error) {
	if ex.Code < 400 {
		return ex, err
	}
	if _, rerr := c.expect(250, "RSET"); rerr != nil {
		return ex, rerr
	}
	return ex, nil
}

func (c *client) quit() {
	_, _ = c.expect(221, "QUIT")
	c.conn.Close()
}
