package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/authmilter/authmilter/policy"
)

// errNoHeader is returned for input that does not start with a header field.
var errNoHeader = errors.New("message: no header section")

// maxLine bounds one physical header line; longer lines are an error, not a
// reason to buffer without limit (RFC 5322 §2.1.1 allows 998 octets).
const maxLine = 64 << 10

// feedMessage reads an RFC 5322 message from r and hands it to m the way an
// MTA does over the milter protocol: each header field as name and value
// (without the one space after the colon, folding kept), then the body in
// chunks. The body is streamed, never held whole.
func feedMessage(m *policy.Message, r io.Reader) (*policy.Verdict, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var name string
	var value bytes.Buffer
	have := false
	flush := func() *policy.Verdict {
		if !have {
			return nil
		}
		have = false
		v := value.String()
		if len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
		return m.Header(name, v)
	}
	for n := 0; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("message: header line %d longer than %d bytes", n+1, maxLine)
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0 && err == io.EOF:
			// End of input right after the header section: no body.
		case len(trimmed) == 0:
			// The empty line that ends the header section.
		case trimmed[0] == ' ' || trimmed[0] == '\t':
			if !have {
				return nil, fmt.Errorf("%w: line %d is a continuation without a field", errNoHeader, n+1)
			}
			value.WriteString("\r\n")
			value.Write(trimmed)
			if err == nil {
				continue
			}
		default:
			if v := flush(); v != nil {
				m.Abort()
				return v, nil
			}
			colon := bytes.IndexByte(trimmed, ':')
			if colon <= 0 {
				if n == 0 {
					return nil, fmt.Errorf("%w: line 1 is not a header field", errNoHeader)
				}
				return nil, fmt.Errorf("message: line %d is not a header field (no colon)", n+1)
			}
			name = string(bytes.TrimRight(trimmed[:colon], " \t"))
			value.Reset()
			value.Write(trimmed[colon+1:])
			have = true
			if err == nil {
				continue
			}
		}
		if v := flush(); v != nil {
			m.Abort()
			return v, nil
		}
		break
	}
	m.EndHeaders()
	buf := make([]byte, 64<<10)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			if err := m.Body(buf[:n]); err != nil {
				return nil, err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return m.Finish(), nil
}
