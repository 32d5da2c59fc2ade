package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Param is one main.cf parameter, "name = value", with continuation lines
// joined by single spaces the way postconf(5) reads them.
type Param struct {
	Name  string
	Value string
	Line  int // where the parameter starts, for error messages
}

// ParseMainCF reads main.cf syntax (postconf(5) "SYNTAX"): "#" comment lines
// and blank lines are ignored, a line starting with white space continues
// the previous parameter, and every other line is "name = value". It
// returns the parameters in file order and every syntax error found, each
// wrapping ErrConfigSyntax with its line number.
func ParseMainCF(r io.Reader) ([]Param, error) {
	var (
		params []Param
		errs   []error
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case trimmed != line: // continuation
			if len(params) == 0 {
				errs = append(errs, fmt.Errorf("%w: line %d: continuation line without a parameter", ErrConfigSyntax, n))
				continue
			}
			p := &params[len(params)-1]
			if p.Value == "" {
				p.Value = trimmed
			} else {
				p.Value += " " + trimmed
			}
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			errs = append(errs, fmt.Errorf("%w: line %d: want \"name = value\", got %q", ErrConfigSyntax, n, line))
			continue
		}
		params = append(params, Param{Name: name, Value: strings.TrimSpace(value), Line: n})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %v", ErrConfigSyntax, err))
	}
	return params, errors.Join(errs...)
}

// MasterEntry is one master.cf service (master(5)): the seven fixed fields
// and the command with its arguments, continuation lines included.
type MasterEntry struct {
	Service, Type, Private, Unpriv, Chroot, Wakeup, MaxProc string
	Command                                                 []string
	Line                                                    int
}

// Options returns the entry's "-o name=value" settings in order, in both
// the "-o name=value" and the Postfix 3 "-o { name = value }" forms.
func (e MasterEntry) Options() ([]Param, error) {
	var out []Param
	args := e.Command[1:]
	for i := 0; i < len(args); i++ {
		if args[i] != "-o" {
			continue
		}
		if i+1 == len(args) {
			return nil, fmt.Errorf("%w: line %d: -o without a setting", ErrConfigSyntax, e.Line)
		}
		i++
		var setting string
		if args[i] == "{" || strings.HasPrefix(args[i], "{") {
			// Collect up to the closing brace; the fields were split on white
			// space, so put them back together.
			var parts []string
			for ; i < len(args); i++ {
				parts = append(parts, args[i])
				if strings.HasSuffix(args[i], "}") {
					break
				}
			}
			setting = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.Join(parts, " "), "{"), "}"))
		} else {
			setting = args[i]
		}
		name, value, ok := strings.Cut(setting, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("%w: line %d: -o %q is not name=value", ErrConfigSyntax, e.Line, setting)
		}
		out = append(out, Param{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value), Line: e.Line})
	}
	return out, nil
}

// ParseMasterCF reads master.cf syntax (master(5)): comments and blank lines
// are ignored, a line starting with white space continues the previous
// entry, and an entry has at least eight fields.
func ParseMasterCF(r io.Reader) ([]MasterEntry, error) {
	var (
		entries []MasterEntry
		errs    []error
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		fields := strings.Fields(trimmed)
		if trimmed != line {
			if len(entries) == 0 {
				errs = append(errs, fmt.Errorf("%w: line %d: continuation line without a service", ErrConfigSyntax, n))
				continue
			}
			e := &entries[len(entries)-1]
			e.Command = append(e.Command, fields...)
			continue
		}
		if len(fields) < 8 {
			errs = append(errs, fmt.Errorf("%w: line %d: a service needs 8 fields, got %d", ErrConfigSyntax, n, len(fields)))
			continue
		}
		entries = append(entries, MasterEntry{
			Service: fields[0], Type: fields[1], Private: fields[2], Unpriv: fields[3],
			Chroot: fields[4], Wakeup: fields[5], MaxProc: fields[6], Command: fields[7:], Line: n,
		})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %v", ErrConfigSyntax, err))
	}
	return entries, errors.Join(errs...)
}
