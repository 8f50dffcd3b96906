package identity_test

import (
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
