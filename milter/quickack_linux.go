package milter

import (
	"net"
	"syscall"
)

// quickAck arms TCP_QUICKACK on c (Linux, tcp(7)): the kernel then ACKs at
// once instead of delaying. Sendmail writes each stage's macro packet and
// the command as two writes without TCP_NODELAY, so the command waits in
// Sendmail's Nagle buffer for our delayed ACK of the macros: ~40 ms per
// stage, ~200 ms per message on an inet socket. The kernel clears the flag
// on its own after a while, so it is re-armed after every read.
func quickAck(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
