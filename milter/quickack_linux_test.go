package milter

import (
	"net"
	"syscall"
	"testing"
)

// After a read through conn, TCP_QUICKACK is armed on the socket.
func TestQuickAckArmedAfterRead(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &conn{Conn: nc, s: &Server{}}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	raw, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK) })
	if gerr != nil || v != 1 {
		t.Errorf("TCP_QUICKACK = %d (%v), want 1", v, gerr)
	}
}
