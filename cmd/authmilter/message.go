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

// feedMessage reads an RFC 5322 message from r and hands it to m the way
// Postfix does over the milter protocol: each header field as name and value
// (without the one space after the colon, folding kept), then the body in
// chunks. Like Postfix, a line that is not a header field (no colon, or a
// name with spaces or controls, RFC 5322 §2.2) ends the header section and
// starts the body. A leading mbox "From " line is skipped. The body is
// streamed, never held whole.
func feedMessage(m *policy.Message, r io.Reader) (*policy.Verdict, error) {
	br := bufio.NewReaderSize(r, maxLine)
	var name string
	var value bytes.Buffer
	have := false
	var firstBody []byte // a non-header line that ended the header section
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
	early := func(v *policy.Verdict) (*policy.Verdict, error) {
		m.Abort()
		return v, nil
	}
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("message: header line %d longer than %d bytes", n, maxLine)
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		trimmed := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 && err == io.EOF {
			break // end of input right after the header section: no body
		}
		if len(trimmed) == 0 {
			break // the empty line that ends the header section
		}
		if trimmed[0] == ' ' || trimmed[0] == '\t' {
			if !have {
				return nil, fmt.Errorf("%w: line %d is a continuation without a field", errNoHeader, n)
			}
			value.WriteString("\r\n")
			value.Write(trimmed)
		} else {
			if v := flush(); v != nil {
				return early(v)
			}
			colon := bytes.IndexByte(trimmed, ':')
			fieldName := bytes.TrimRight(trimmed[:max(colon, 0)], " \t")
			if colon <= 0 || !validFieldName(fieldName) {
				if n == 1 && bytes.HasPrefix(trimmed, []byte("From ")) {
					continue // mbox separator
				}
				if n == 1 || (n == 2 && name == "") {
					return nil, fmt.Errorf("%w: line %d is not a header field", errNoHeader, n)
				}
				firstBody = append([]byte(nil), line...)
				break
			}
			name = string(fieldName)
			value.Reset()
			value.Write(trimmed[colon+1:])
			have = true
		}
		if err == io.EOF {
			break
		}
	}
	if v := flush(); v != nil {
		return early(v)
	}
	m.EndHeaders()
	if firstBody != nil {
		if err := m.Body(firstBody); err != nil {
			return nil, err
		}
	}
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

// validFieldName reports whether b is an RFC 5322 field name: printable
// US-ASCII except ':' (§3.6.8 ftext).
func validFieldName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}
