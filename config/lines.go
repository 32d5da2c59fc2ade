package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The toml package records where each key is (MetaData.keyInfo) but does
// not export it, and reports only the first type error when decoding into a
// struct. So Parse decodes into a map, checks types itself, and gets lines
// from keyLines, a small scanner over the same text.
//
// Key paths are strings: keys joined with '.', a key that is not a bare key
// quoted as a Go string literal, and array elements (including tables of an
// array of tables) as "[i]": `dns.nameservers[1]`, `signing.key[0].selector`,
// `"odd.key".x`. joinPath and indexPath build them; decoder and scanner use
// the same functions, so their paths agree.

// joinPath appends key k to path.
func joinPath(path, k string) string {
	if !isBareKey(k) {
		k = strconv.Quote(k)
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

// indexPath appends array index i to path.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parentPath removes the last key or index from path; "" when none is left.
func parentPath(path string) string {
	last := 0 // start of the last element
	for i := 0; i < len(path); {
		switch c := path[i]; {
		case c == '.':
			last = i
			i++
		case c == '[':
			last = i
			for i < len(path) && path[i] != ']' {
				i++
			}
			i++
		case c == '"':
			q, err := strconv.QuotedPrefix(path[i:])
			if err != nil {
				return ""
			}
			i += len(q)
		default:
			i++
		}
	}
	return path[:last]
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyByte(k[i]) {
			return false
		}
	}
	return true
}

// isBareKeyByte: TOML bare keys are A-Za-z0-9_- (TOML v1.1.0, "Keys").
func isBareKeyByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyLines maps the path of every key, table and array element in src to
// the 1-based line where it first appears. src should be valid TOML (Parse
// calls it only after the toml package accepted src); on other input it
// returns partial results and never fails, loops or panics.
func keyLines(src string) map[string]int {
	s := &lineScanner{src: src, line: 1, lines: map[string]int{}, arrays: map[string]int{}}
	s.document()
	return s.lines
}

type lineScanner struct {
	src    string
	i      int // read position in src
	line   int // line of src[i]
	lines  map[string]int
	arrays map[string]int // array-of-tables path -> elements seen so far
}

func (s *lineScanner) eof() bool { return s.i >= len(s.src) }

func (s *lineScanner) record(path string, line int) {
	if _, ok := s.lines[path]; !ok {
		s.lines[path] = line
	}
}

// document scans top-level statements: [table], [[array]] and key = value.
func (s *lineScanner) document() {
	table := "" // path of the current table
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.src[s.i] == '[' {
			isArray := strings.HasPrefix(s.src[s.i:], "[[")
			if isArray {
				s.i += 2
			} else {
				s.i++
			}
			line := s.line
			if keys := s.keys(); keys != nil {
				table = s.header(keys, isArray, line)
			}
		} else if keys := s.keys(); keys != nil {
			line := s.line
			s.skipSpace(false)
			if !s.eof() && s.src[s.i] == '=' {
				s.i++
				s.skipSpace(false)
				s.value(s.dotted(table, keys, line))
			}
		}
		s.skipLine()
		if s.i == start && !s.eof() {
			s.i++ // not TOML; make progress regardless
		}
	}
}

// header records the keys of a [table] or [[array]] header and returns the
// path of the table it opens. Tables named through an array of tables
// belong to its last element, as in TOML: after [[a]] [a.b], b is in a[0].
func (s *lineScanner) header(keys []string, isArray bool, line int) string {
	path := ""
	for j, k := range keys {
		path = joinPath(path, k)
		last := j == len(keys)-1
		if last && isArray {
			n := s.arrays[path]
			s.arrays[path] = n + 1
			s.record(path, line)
			path = indexPath(path, n)
		} else if n := s.arrays[path]; n > 0 {
			s.record(path, line)
			path = indexPath(path, n-1)
		}
		s.record(path, line)
	}
	return path
}

// dotted records a (possibly dotted) key under table and returns its path.
func (s *lineScanner) dotted(table string, keys []string, line int) string {
	path := table
	for _, k := range keys {
		path = joinPath(path, k)
		s.record(path, line)
	}
	return path
}

// keys reads a key: bare or quoted parts separated by dots. It returns nil
// if there is no key at the read position.
func (s *lineScanner) keys() []string {
	var keys []string
	for {
		s.skipSpace(false)
		if s.eof() {
			break
		}
		var k string
		switch c := s.src[s.i]; {
		case c == '"':
			k = s.basicString()
		case c == '\'':
			k = s.literalString()
		case isBareKeyByte(c):
			start := s.i
			for !s.eof() && isBareKeyByte(s.src[s.i]) {
				s.i++
			}
			k = s.src[start:s.i]
		default:
			return keys
		}
		keys = append(keys, k)
		s.skipSpace(false)
		if s.eof() || s.src[s.i] != '.' {
			break
		}
		s.i++
	}
	return keys
}

// value skips one value, recording the elements of arrays and the keys of
// inline tables under path.
func (s *lineScanner) value(path string) {
	if s.eof() {
		return
	}
	switch rest := s.src[s.i:]; {
	case strings.HasPrefix(rest, `"""`):
		s.multiline(`"""`, true)
	case strings.HasPrefix(rest, `'''`):
		s.multiline(`'''`, false)
	case rest[0] == '"':
		s.basicString()
	case rest[0] == '\'':
		s.literalString()
	case rest[0] == '[':
		s.i++
		for n := 0; ; {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			switch s.src[s.i] {
			case ']':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			p := indexPath(path, n)
			s.record(p, s.line)
			start := s.i
			s.value(p)
			if s.i == start {
				s.i++
			}
			n++
		}
	case rest[0] == '{':
		s.i++
		for {
			// TOML 1.1 allows newlines and comments in inline tables.
			s.skipSpace(true)
			if s.eof() {
				return
			}
			switch s.src[s.i] {
			case '}':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			start, line := s.i, s.line
			if keys := s.keys(); keys != nil {
				s.skipSpace(false)
				if !s.eof() && s.src[s.i] == '=' {
					s.i++
					s.skipSpace(false)
					s.value(s.dotted(path, keys, line))
				}
			}
			if s.i == start {
				s.i++
			}
		}
	default:
		// Numbers, booleans, dates: they contain none of these bytes
		// (a date may contain a space before its time).
		for !s.eof() && !strings.ContainsRune(",]}#\r\n", rune(s.src[s.i])) {
			s.i++
		}
	}
}

// basicString reads a "..." string and returns its value.
func (s *lineScanner) basicString() string {
	s.i++ // opening quote
	var b strings.Builder
	for !s.eof() {
		c := s.src[s.i]
		switch c {
		case '"':
			s.i++
			return b.String()
		case '\n':
			return b.String() // unterminated; not valid TOML
		case '\\':
			s.escape(&b)
		default:
			b.WriteByte(c)
			s.i++
		}
	}
	return b.String()
}

// escape decodes the escape sequence at the read position (TOML v1.1.0,
// "String"), or copies it through if it is not one.
func (s *lineScanner) escape(b *strings.Builder) {
	s.i++ // backslash
	if s.eof() {
		return
	}
	c := s.src[s.i]
	s.i++
	var width int
	switch c {
	case 'b':
		b.WriteByte('\b')
		return
	case 't':
		b.WriteByte('\t')
		return
	case 'n':
		b.WriteByte('\n')
		return
	case 'f':
		b.WriteByte('\f')
		return
	case 'r':
		b.WriteByte('\r')
		return
	case 'e':
		b.WriteByte(0x1b)
		return
	case '"', '\\':
		b.WriteByte(c)
		return
	case 'x':
		width = 2
	case 'u':
		width = 4
	case 'U':
		width = 8
	}
	if width == 0 || s.i+width > len(s.src) {
		b.WriteByte('\\')
		b.WriteByte(c)
		return
	}
	n, err := strconv.ParseUint(s.src[s.i:s.i+width], 16, 32)
	if err != nil || !utf8.ValidRune(rune(n)) {
		b.WriteByte('\\')
		b.WriteByte(c)
		return
	}
	s.i += width
	b.WriteRune(rune(n))
}

// literalString reads a '...' string and returns its value.
func (s *lineScanner) literalString() string {
	s.i++
	start := s.i
	for !s.eof() && s.src[s.i] != '\'' && s.src[s.i] != '\n' {
		s.i++
	}
	v := s.src[start:s.i]
	if !s.eof() && s.src[s.i] == '\'' {
		s.i++
	}
	return v
}

// multiline skips a multi-line string delimited by delim, counting lines.
// Up to two quotes may directly precede the closing delimiter (TOML allows
// `""""x""""`-style content), so the string ends at the last quote of a run.
func (s *lineScanner) multiline(delim string, escapes bool) {
	s.i += len(delim)
	q := delim[0]
	for !s.eof() {
		c := s.src[s.i]
		switch {
		case c == '\n':
			s.line++
			s.i++
		case escapes && c == '\\':
			s.i += 2
			if s.i <= len(s.src) && s.src[s.i-1] == '\n' {
				s.line++
			}
		case c == q && strings.HasPrefix(s.src[s.i:], delim):
			run := 0
			for s.i+run < len(s.src) && s.src[s.i+run] == q && run < 5 {
				run++
			}
			s.i += run
			return
		default:
			s.i++
		}
	}
}

// skipSpace skips blanks and, with newlines set, also line breaks and
// comments.
func (s *lineScanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t':
			s.i++
		case '\r', '\n', '#':
			if !newlines {
				return
			}
			if s.src[s.i] == '#' {
				s.skipLine()
				continue
			}
			if s.src[s.i] == '\n' {
				s.line++
			}
			s.i++
		default:
			return
		}
	}
}

// skipLine moves to the next line break (or the end), skipping the rest of
// a statement and any comment.
func (s *lineScanner) skipLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.i++
	}
}
