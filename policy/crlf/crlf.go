// Package crlf turns bare LF line ends into CRLF, as RFC 5322 §2.1 and the
// DKIM canonicalizations (RFC 6376 §3.4) expect, for data that arrives in
// chunks: the milter protocol may split a CRLF across two body chunks, so
// both functions take whether the previous chunk ended in CR.
package crlf

import "bytes"

// Append appends b to dst, turning each LF not preceded by CR (in b, or by
// prevCR at b's start) into CRLF.
func Append(dst, b []byte, prevCR bool) []byte {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return append(dst, b...)
		}
		bare := (i == 0 && !prevCR) || (i > 0 && b[i-1] != '\r')
		dst = append(dst, b[:i]...)
		if bare {
			dst = append(dst, '\r')
		}
		dst = append(dst, '\n')
		b = b[i+1:]
		prevCR = false
	}
	return dst
}

// HasBareLF reports whether b has an LF without a CR before it, so that the
// common all-CRLF chunk is passed on without a copy.
func HasBareLF(b []byte, prevCR bool) bool {
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return false
		}
		i += off
		if (i == 0 && !prevCR) || (i > 0 && b[i-1] != '\r') {
			return true
		}
		off = i + 1
	}
}

// AppendField appends one header field to dst with CRLF line ends (bare LF
// becomes CRLF), a space before every inner line that lacks leading
// whitespace (so a malformed continuation cannot start a field of its
// own), and a final CRLF.
func AppendField(dst, field []byte) []byte {
	for first := true; len(field) > 0; first = false {
		line, next, _ := bytes.Cut(field, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if !first && (len(line) == 0 || (line[0] != ' ' && line[0] != '\t')) {
			dst = append(dst, ' ')
		}
		dst = append(dst, line...)
		dst = append(dst, '\r', '\n')
		field = next
	}
	return dst
}

// Stream normalizes a body that arrives in chunks: it remembers whether the
// last chunk ended in CR, and reuses one buffer. The zero value is ready.
type Stream struct {
	lastCR  bool
	scratch []byte
}

// Normalize returns chunk with bare LFs made CRLF: chunk itself when it has
// none (the common case, no copy), otherwise a buffer that is valid until
// the next call.
func (s *Stream) Normalize(chunk []byte) []byte {
	if len(chunk) == 0 {
		return chunk
	}
	data := chunk
	if HasBareLF(chunk, s.lastCR) {
		s.scratch = Append(s.scratch[:0], chunk, s.lastCR)
		data = s.scratch
	}
	s.lastCR = chunk[len(chunk)-1] == '\r'
	return data
}
