package identity

import (
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nova-social/nova/shared/password"
)

// Limits of user input.
const (
	MinUsernameLen    = 3
	MaxUsernameLen    = 30
	MaxEmailLen       = 254 // RFC 5321's path limit less the brackets
	MinPasswordLen    = 8   // characters
	MaxPasswordLen    = 256 // characters; at most 1 KiB of UTF-8, password.MaxPasswordBytes
	MaxDisplayNameLen = 64  // characters
	MaxAvatarURLLen   = 2048
)

// ValidateUsername checks a username: 3 to 30 of a–z, A–Z, 0–9 and _.
// Case is kept but not significant.
func ValidateUsername(u string) error {
	if u == "" {
		return invalid("username", "is required")
	}
	if len(u) < MinUsernameLen || len(u) > MaxUsernameLen {
		return invalid("username", "must be %d to %d characters", MinUsernameLen, MaxUsernameLen)
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return invalid("username", "may hold only letters a-z, digits and _")
		}
	}
	return nil
}

// ValidateEmail checks the shape of an address: one bare addr-spec (no
// display name, no angle brackets) as RFC 5321 bounds it (a local part of
// at most 64 bytes) whose domain is a host name of at least two labels
// (letters, digits and inner hyphens, each at most 63 bytes, the last not
// all digits). Address literals ("user@[192.0.2.1]") are refused: mail
// for a user goes to a domain, and a literal names a machine. Whether the
// mailbox exists is not this package's business.
func ValidateEmail(e string) error {
	if e == "" {
		return invalid("email", "is required")
	}
	if len(e) > MaxEmailLen {
		return invalid("email", "must be at most %d bytes", MaxEmailLen)
	}
	bad := invalid("email", "is not an email address")
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return bad
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], e[at+1:]
	if local == "" || strings.ContainsFunc(e, unicode.IsSpace) {
		return bad
	}
	if len(local) > 64 || !hostName(domain) {
		return bad
	}
	return nil
}

// hostName reports whether d is a host name of two labels or more.
func hostName(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 || len(d) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' ||
			strings.ContainsFunc(l, func(r rune) bool { return r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			return false
		}
	}
	tld := labels[len(labels)-1]
	return strings.ContainsFunc(tld, func(r rune) bool { return !unicode.IsDigit(r) })
}

// ValidatePassword checks a new password: its length in characters, and
// that it is not among the most common ones (password.IsCommon).
func ValidatePassword(p string) error {
	if p == "" {
		return invalid("password", "is required")
	}
	if n := utf8.RuneCountInString(p); n < MinPasswordLen || n > MaxPasswordLen {
		return invalid("password", "must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	if password.IsCommon(p) {
		return invalid("password", "is one of the most common passwords, the first an attacker tries; choose another")
	}
	return nil
}

// ValidateDisplayName checks a display name: at most 64 characters, no
// control characters (they break every client that renders names) and no
// invisible format characters (Unicode Cf: U+202E turns the rest of a name,
// and whatever a client prints after it, around; U+200B makes two names
// that look the same differ), except the zero-width joiner and non-joiner,
// which emoji sequences and scripts such as Persian need.
func ValidateDisplayName(d string) error {
	if utf8.RuneCountInString(d) > MaxDisplayNameLen {
		return invalid("display_name", "must be at most %d characters", MaxDisplayNameLen)
	}
	if strings.ContainsFunc(d, unicode.IsControl) {
		return invalid("display_name", "must not hold control characters")
	}
	if i := strings.IndexFunc(d, invisibleFormat); i >= 0 {
		r, _ := utf8.DecodeRuneInString(d[i:])
		return invalid("display_name", "must not hold the invisible format character U+%04X", r)
	}
	return nil
}

func invisibleFormat(r rune) bool {
	return unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d'
}

// ValidateAvatarURL checks an avatar URL: empty (no avatar) or an absolute
// http or https URL with a host and no credentials. Other schemes
// (javascript:, data:, file:) are refused because clients put the value
// straight into an img src.
func ValidateAvatarURL(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxAvatarURLLen {
		return invalid("avatar_url", "must be at most %d bytes", MaxAvatarURLLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		u.User != nil || u.Opaque != "" || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return invalid("avatar_url", "must be an http or https URL")
	}
	return nil
}
