// Package milter is the protocol adapter between an MTA (Postfix, Sendmail)
// and package policy. It turns the MTA's callbacks into one policy.Message,
// and applies the policy.Verdict: header changes, a reply code, quarantine.
// It makes no decisions of its own.
//
// It is built on github.com/emersion/go-milter v0.5.0 and works around that
// library's traps (see DEVELOPERS notes in LIBRARIES.md):
//   - macros are replaced at every stage, so each value is copied into the
//     session when it arrives;
//   - the backend is replaced after any non-continue response, which would
//     lose the connection's data, so every reject and tempfail is sent as a
//     reply code (SMFIR_REPLYCODE, which also carries an enhanced status
//     code) and "accept" at end of message is SMFIR_CONTINUE;
//   - the library's header map leaks across messages, so headers are
//     collected here, in order;
//   - an IPv6 client's address may not parse, so {client_addr} is the
//     fallback, with its "IPv6:" prefix stripped;
//   - Server.Close neither waits for sessions nor times out reads, so
//     connections are tracked here, with a deadline on every read and write.
package milter

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gomilter "github.com/emersion/go-milter"
	"go.uber.org/zap"

	"github.com/authmilter/authmilter/policy"
)

// Options configure a Server.
type Options struct {
	// IOTimeout bounds each read and write on an MTA connection. It must be
	// longer than the MTA's own idle times (Postfix's smtpd_timeout is 300 s)
	// because a connection sits idle while the SMTP client is slow. Zero
	// means no deadline.
	IOTimeout time.Duration
	// Observer, if not nil, is told about every verdict and the time each
	// milter callback took (package metrics implements it). It is called
	// on the connections' goroutines, so it must be safe for concurrent
	// use, and cheap: it runs while the MTA waits.
	Observer Observer
}

// Observer receives what the milter measures. It is an interface so that
// this package does not depend on an exporter.
type Observer interface {
	// Message is called once per message with its verdict and the time
	// from MAIL FROM to the verdict.
	Message(v *policy.Verdict, elapsed time.Duration)
	// Stage is called after each callback from the MTA with the stage's
	// name (one of the Stage constants) and the time the callback took.
	Stage(stage string, elapsed time.Duration)
}

// The stage names given to Observer.Stage, one per milter command we
// answer (SMFIC_CONNECT, HELO, MAIL, RCPT, HEADER, EOH, BODY, BODYEOB).
const (
	StageConnect = "connect"
	StageHelo    = "helo"
	StageMail    = "mail"
	StageRcpt    = "rcpt"
	StageHeader  = "header"
	StageEOH     = "eoh"
	StageBody    = "body"
	StageEOM     = "eom"
)

// Server serves the milter protocol on one listener.
type Server struct {
	log     *zap.Logger
	opts    Options
	engine  atomic.Pointer[policy.Engine]
	closing atomic.Bool
	serving atomic.Bool

	mu       sync.Mutex
	conns    map[*conn]struct{}
	listener net.Listener
	pending  *conn // accepted, waiting for go-milter's NewMilter call
	proto    *gomilter.Server
}

// actions are the modifications we negotiate: add and change (delete)
// header fields, and quarantine for DMARC p=quarantine.
const actions = gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine

// New returns a Server that judges messages with engine.
func New(engine *policy.Engine, log *zap.Logger, opts Options) *Server {
	s := &Server{log: log.Named("milter"), opts: opts, conns: map[*conn]struct{}{}}
	s.engine.Store(engine)
	s.proto = &gomilter.Server{
		NewMilter: s.newSession,
		Actions:   actions,
	}
	return s
}

// SetEngine swaps the engine used for messages that start from now on; a
// message in flight finishes with the engine it started with. This is how a
// configuration reload (SIGHUP) takes effect without dropping connections.
func (s *Server) SetEngine(e *policy.Engine) { s.engine.Store(e) }

// Engine returns the current engine.
func (s *Server) Engine() *policy.Engine { return s.engine.Load() }

// ErrServing is returned by a second call to Serve: a Server pairs each
// accepted connection with the session go-milter creates for it right after
// Accept, which only works with one accept loop.
var ErrServing = errors.New("milter: Serve called twice")

// Serve accepts MTA connections on ln until Shutdown. It returns nil after
// Shutdown, or the listener's error. It may be called once per Server.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	if s.listener != nil {
		s.mu.Unlock()
		return ErrServing
	}
	s.listener = ln
	s.serving.Store(true)
	s.mu.Unlock()
	err := s.proto.Serve(&listener{Listener: ln, s: s})
	s.serving.Store(false)
	if s.closing.Load() {
		return nil
	}
	return err
}

// Serving reports whether Serve is accepting connections: it has been
// called, has not returned, and Shutdown has not begun. A health check
// reports this, so that nothing sends mail to a daemon on its way out.
func (s *Server) Serving() bool { return s.serving.Load() && !s.closing.Load() }

// Shutdown stops accepting connections, lets messages in flight finish, and
// closes every connection. Connections that start a new message meanwhile
// are answered "451 4.3.2" so the MTA retries later. When ctx ends first,
// the remaining connections are closed anyway (the MTA then applies its
// milter_default_action to those messages) and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	if s.listener != nil {
		s.listener.Close()
	}
	s.mu.Unlock()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.busy() == 0 {
			s.closeAll()
			return nil
		}
		select {
		case <-ctx.Done():
			n := s.busy()
			s.closeAll()
			s.log.Warn("shutdown timeout: closed connections with messages in flight", zap.Int("messages", n))
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// busy counts connections with a message in flight.
func (s *Server) busy() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.sess != nil && c.sess.inMessage.Load() {
			n++
		}
	}
	return n
}

// closeAll closes the underlying sockets; each session's goroutine then sees
// the error, and cleans up on its own goroutine through conn.Close.
func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Conn.Close()
	}
}

// ActiveConnections returns the number of open MTA connections.
func (s *Server) ActiveConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// newSession is go-milter's NewMilter hook. go-milter's Serve loop calls it
// right after Accept, on the same goroutine, so the connection accepted last
// is this session's. (go-milter also calls NewMilter after a non-continue
// response; we never send one, and such a late session gets no connection,
// which only means that its close is not observed.)
func (s *Server) newSession() gomilter.Milter {
	sess := &session{s: s, log: s.log}
	s.mu.Lock()
	if c := s.pending; c != nil {
		c.sess = sess
		s.pending = nil
	}
	s.mu.Unlock()
	return sess
}

// listener tracks accepted connections.
type listener struct {
	net.Listener
	s *Server
}

// Accept retries temporary failures (EMFILE, ECONNABORTED, ...) with a
// growing pause, as net/http does: go-milter's Serve returns on any Accept
// error, and one busy moment must not stop the daemon.
func (l *listener) Accept() (net.Conn, error) {
	var pause time.Duration
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			if l.s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return nil, gomilter.ErrServerClosed
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			l.s.log.Warn("accept failed; retrying", zap.Error(err), zap.Duration("pause", pause))
			time.Sleep(pause)
			continue
		}
		c := &conn{Conn: nc, s: l.s}
		l.s.mu.Lock()
		if l.s.closing.Load() {
			// Shutdown has begun, and may already have closed the others.
			l.s.mu.Unlock()
			nc.Close()
			return nil, gomilter.ErrServerClosed
		}
		l.s.conns[c] = struct{}{}
		l.s.pending = c
		l.s.mu.Unlock()
		return c, nil
	}
}

// conn applies the I/O timeout to every read and write, and tells its
// session when go-milter closes it.
type conn struct {
	net.Conn
	s      *Server
	sess   *session
	closed atomic.Bool
}

func (c *conn) Read(b []byte) (int, error) {
	if t := c.s.opts.IOTimeout; t > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(t))
	}
	n, err := c.Conn.Read(b)
	quickAck(c.Conn)
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	if t := c.s.opts.IOTimeout; t > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(t))
	}
	return c.Conn.Write(b)
}

// Close is called by go-milter on the session's own goroutine when the
// session ends, so it may touch the session's state.
func (c *conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := c.Conn.Close()
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	if c.sess != nil {
		c.sess.connClosed()
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
