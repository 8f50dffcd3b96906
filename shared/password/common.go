package password

import (
	_ "embed"
	"strings"
	"sync"
)

// commonList holds the 20,000 most common passwords of eight characters or
// more (common-passwords.md says where from).
//
//go:embed common-passwords.txt
var commonList string

// common is commonList as a set, built on first use.
var common = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(commonList, "\n")
	set := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			set[strings.ToLower(l)] = struct{}{}
		}
	}
	return set
})

// IsCommon reports whether p, ignoring case, is one of the 20,000 most
// common passwords of eight characters or more: the first an attacker
// tries, whatever the rate limit lets through.
func IsCommon(p string) bool {
	_, ok := common()[strings.ToLower(p)]
	return ok
}
