package authres

import (
	"strings"
	"unicode"
)

// domainToASCII turns a domain with U-labels into A-labels (RFC 5890 §2.3.2.1:
// "xn--" followed by the RFC 3492 Punycode of the label). It is deliberately
// small: labels are lower-cased but not NFC-normalized or checked against
// IDNA2008 tables (that needs golang.org/x/text, which is not a dependency).
// A label that is not letters, marks, digits and hyphens is refused, so
// anything that is not plausibly a domain falls back to '?' replacement. The
// result is only used for display in the header and for comparing
// authserv-ids, never for DNS lookups.
func domainToASCII(d string) (string, bool) {
	if d == "" || len(d) > 1024 {
		return "", false
	}
	labels := strings.Split(d, ".")
	for i, l := range labels {
		if isASCII(l) {
			continue
		}
		l = strings.ToLower(l)
		runes := []rune(l)
		if len(runes) > 63 {
			return "", false
		}
		for _, r := range runes {
			if r < 0x80 {
				if !isLDH(byte(r)) {
					return "", false
				}
				continue
			}
			if !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r) {
				return "", false
			}
		}
		a := "xn--" + punycode(runes)
		if len(a) > 63 {
			return "", false
		}
		labels[i] = a
	}
	out := strings.Join(labels, ".")
	if len(out) > 253 {
		return "", false
	}
	return out, true
}

// RFC 3492 §5 parameters.
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
)

// punycodeAdapt is the RFC 3492 §6.1 bias adaptation.
func punycodeAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

func punycodeDigit(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}

// punycode is the RFC 3492 §6.3 encoder. Labels are at most 63 runes, so the
// arithmetic cannot overflow an int.
func punycode(label []rune) string {
	var out []byte
	for _, r := range label {
		if r < 0x80 {
			out = append(out, byte(r))
		}
	}
	basic := len(out)
	handled := basic
	if basic > 0 {
		out = append(out, '-')
	}
	n, delta, bias := pcInitialN, 0, pcInitialBias
	for handled < len(label) {
		m := int(unicode.MaxRune) + 1
		for _, r := range label {
			if int(r) >= n && int(r) < m {
				m = int(r)
			}
		}
		delta += (m - n) * (handled + 1)
		n = m
		for _, r := range label {
			if int(r) < n {
				delta++
			}
			if int(r) != n {
				continue
			}
			q := delta
			for k := pcBase; ; k += pcBase {
				t := k - bias
				if t < pcTMin {
					t = pcTMin
				} else if t > pcTMax {
					t = pcTMax
				}
				if q < t {
					break
				}
				out = append(out, punycodeDigit(t+(q-t)%(pcBase-t)))
				q = (q - t) / (pcBase - t)
			}
			out = append(out, punycodeDigit(q))
			bias = punycodeAdapt(delta, handled+1, handled == basic)
			delta = 0
			handled++
		}
		delta++
		n++
	}
	return string(out)
}
