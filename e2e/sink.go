package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/mail"
	"strings"
	"sync"

	"github.com/emersion/go-smtp"
)

// Delivered is one message as Postfix relayed it to the sink.
type Delivered struct {
	From string   // MAIL FROM, "" for the null sender
	To   []string // RCPT TO, in order
	Data []byte   // the message exactly as received, CRLF line ends
}

// Header parses the delivered message's header section (folded lines
// unfolded by net/mail).
func (d *Delivered) Header() (mail.Header, error) {
	m, err := mail.ReadMessage(bytes.NewReader(d.Data))
	if err != nil {
		return nil, err
	}
	return m.Header, nil
}

// Body returns everything after the blank line that ends the header.
func (d *Delivered) Body() []byte {
	if i := bytes.Index(d.Data, []byte("\r\n\r\n")); i >= 0 {
		return d.Data[i+4:]
	}
	return nil
}

// Sink is the next hop of the test Postfix: an SMTP server (go-smtp) on a
// loopback port that accepts everything and keeps each message.
type Sink struct {
	srv *smtp.Server
	ln  net.Listener

	mu      sync.Mutex
	msgs    []*Delivered
	changed chan struct{} // closed and replaced at every delivery
}

// StartSink starts a sink on 127.0.0.1 with a port of its own.
func StartSink() (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{ln: ln, changed: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s}, nil
	}))
	srv.Domain = "sink.test"
	srv.MaxMessageBytes = 64 << 20
	srv.MaxRecipients = 100
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv = srv
	go func() { _ = srv.Serve(ln) }()
	return s, nil
}

// Addr returns the sink's "127.0.0.1:PORT".
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Close stops the sink.
func (s *Sink) Close() error { return s.srv.Close() }

// Messages returns a copy of the list of messages received so far.
func (s *Sink) Messages() []*Delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Delivered(nil), s.msgs...)
}

// WaitFor returns the first message delivered to rcpt (compared without
// regard to case), waiting for it until ctx is done. Tests give every
// message a recipient of its own, so the shared sink needs no reset.
func (s *Sink) WaitFor(ctx context.Context, rcpt string) (*Delivered, error) {
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			for _, to := range m.To {
				if strings.EqualFold(to, rcpt) {
					s.mu.Unlock()
					return m, nil
				}
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: no message for <%s> at the sink: %v", ErrTimeout, rcpt, ctx.Err())
		}
	}
}

// Find returns the messages delivered to rcpt so far.
func (s *Sink) Find(rcpt string) []*Delivered {
	var out []*Delivered
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, rcpt) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Dump formats the messages delivered to rcpt (all messages for "") for a
// failure report.
func (s *Sink) Dump(rcpt string) string {
	var b strings.Builder
	msgs := s.Messages()
	if rcpt != "" {
		msgs = s.Find(rcpt)
	}
	fmt.Fprintf(&b, "sink holds %d message(s) for %q\n", len(msgs), rcpt)
	for i, m := range msgs {
		fmt.Fprintf(&b, "--- message %d: MAIL FROM:<%s> RCPT TO:%v\n%s\n", i+1, m.From, m.To, m.Data)
	}
	return b.String()
}

func (s *Sink) deliver(m *Delivered) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

type sinkSession struct {
	sink *Sink
	from string
	to   []string
}

func (x *sinkSession) Reset()        { x.from, x.to = "", nil }
func (x *sinkSession) Logout() error { return nil }

func (x *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	x.from, x.to = from, nil
	return nil
}

func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.sink.deliver(&Delivered{From: x.from, To: x.to, Data: data})
	return nil
}
