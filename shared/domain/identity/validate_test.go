package identity_test

import (
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/domain/identity"
)

func TestValidateDisplayName(t *testing.T) {
	for name, ok := range map[string]bool{
		"Alice Liddell":          true,
		"Zoë 🌸":                  true,
		"👩\u200d👩\u200d👧 family": true, // emoji joined by ZWJ
		"می\u200cخواهم":          true, // Persian with a zero-width non-joiner
		"admin\u202egnp.exe":     false,
		"Al\u200bice":            false,
		"\ufeffBOM":              false,
		"soft\u00adhyphen":       false,
		"tag\U000E0041":          false,
		"bell\a":                 false,
		string(make([]rune, 65)): false,
	} {
		if err := identity.ValidateDisplayName(name); (err == nil) != ok {
			t.Errorf("ValidateDisplayName(%q) = %v, want accepted: %v", name, err, ok)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	for e, ok := range map[string]bool{
		"ann@example.com":                         true,
		"ann.lee+nova@mail.example.co.uk":         true,
		"zoë@exämple.de":                          true,
		"a@b-c.io":                                true,
		"ann@[192.0.2.1]":                         false,
		"ann@[IPv6:2001:db8::1]":                  false,
		"ann@192.0.2.1":                           false,
		"ann@localhost":                           false,
		"ann@-example.com":                        false,
		"ann@example-.com":                        false,
		"ann@exa_mple.com":                        false,
		"ann@example..com":                        false,
		"Ann <ann@example.com>":                   false,
		"\"ann lee\"@example.com":                 false,
		string(make([]byte, 65)) + "@example.com": false,
		"a@" + strings.Repeat("x", 64) + ".com":   false,
		"ann@example.com.":                        false,
		"":                                        false,
	} {
		if err := identity.ValidateEmail(e); (err == nil) != ok {
			t.Errorf("ValidateEmail(%q) = %v, want accepted: %v", e, err, ok)
		}
	}
}
