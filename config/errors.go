package config

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every *Error wraps exactly one of them, so callers and
// tests can tell the kinds apart with errors.Is without matching message
// text; Errors unwraps to all of its members, so errors.Is works on the
// value Parse and Load return, too.
var (
	// ErrRead: the file could not be read, or is too large to be a
	// configuration file. The error has no line.
	ErrRead = errors.New("config: cannot read file")
	// ErrSyntax: the file is not valid TOML. The TOML parser stops at the
	// first syntax error, so this is the only error reported for the file.
	ErrSyntax = errors.New("config: TOML syntax error")
	// ErrUnknownKey: a key or table that authmilter does not know,
	// usually a typo. Unknown keys are errors rather than being ignored,
	// so that a misspelt setting cannot silently leave a default in place.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrType: a value of the wrong TOML type, such as an integer where
	// a duration string is expected.
	ErrType = errors.New("config: wrong type")
	// ErrValue: a value of the right type that is out of range or
	// malformed, or that contradicts another setting.
	ErrValue = errors.New("config: invalid value")
)

// Error is one problem found in a configuration file, with the line it was
// found on, in the "file:line: message" form editors and compilers use, so
// an administrator can jump to it (maddy cfgparser, chasquid aliases).
type Error struct {
	File string // file name as given to Parse or Load; "" if none
	Line int    // 1-based line; 0 when the error concerns the whole file
	Msg  string // what is wrong, naming the key
	Err  error  // one of ErrRead, ErrSyntax, ErrUnknownKey, ErrType, ErrValue
}

// Error returns "file:line: msg", or "file: msg" for whole-file errors.
// Without a file name it returns "line N: msg", or just msg.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	case e.File != "":
		b.WriteString(e.File)
		b.WriteString(": ")
	case e.Line > 0:
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel describing the kind of error.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in one configuration file, in file order
// (whole-file errors last). Parse and Load report them all at once, like
// mox's ParseConfig, so that `authmilter config check` shows everything to
// fix in one run instead of one error per run.
type Errors []*Error

// Error returns the errors one per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As access to every member.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
