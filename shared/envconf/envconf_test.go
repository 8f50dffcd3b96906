package envconf_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/shared/envconf"
)

func TestValuesAndDefaults(t *testing.T) {
	e := envconf.New(map[string]string{
		"S": " x ", "I": "42", "I64": "5000000000", "F": "0.5", "D": "90s", "B": "Yes", "L": "a, b,,c", "EMPTY_LIST": "", "BLANK": "  ",
	})
	if got := e.String("S", "d"); got != "x" {
		t.Errorf("String = %q", got)
	}
	if got := e.String("BLANK", "d"); got != "d" {
		t.Errorf("String of a blank variable = %q, want the default", got)
	}
	if got := e.Int("I", 1); got != 42 {
		t.Errorf("Int = %d", got)
	}
	if got := e.Int("UNSET", 7); got != 7 {
		t.Errorf("Int default = %d", got)
	}
	if got := e.Int64("I64", 1); got != 5000000000 {
		t.Errorf("Int64 = %d", got)
	}
	if got := e.Float("F", 1); got != 0.5 {
		t.Errorf("Float = %v", got)
	}
	if got := e.Duration("D", time.Second); got != 90*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if got := e.Bool("B", false); !got {
		t.Errorf("Bool = %v", got)
	}
	if got := e.Strings("L", ",", nil); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Strings = %q", got)
	}
	if got := e.Strings("EMPTY_LIST", ",", []string{"default"}); got == nil || len(got) != 0 {
		t.Errorf("Strings of a present empty variable = %q, want the empty list", got)
	}
	if got := e.Strings("UNSET", ",", []string{"default"}); !slices.Equal(got, []string{"default"}) {
		t.Errorf("Strings of an absent variable = %q, want the default", got)
	}
	if got := e.Required("S"); got != "x" {
		t.Errorf("Required = %q", got)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

// Every malformed value is reported, each by name, and keeps its default.
func TestEveryErrorNamesItsVariable(t *testing.T) {
	e := envconf.New(map[string]string{"I": "4x", "I32": "5000000000", "F": "half", "D": "10", "B": "maybe"})
	if got := e.Int("I", 3); got != 3 {
		t.Errorf("Int of a malformed value = %d, want the default", got)
	}
	e.Int("I32", 0)
	e.Float("F", 0)
	e.Duration("D", 0)
	e.Bool("B", false)
	e.Required("MISSING")
	if !e.Failed("I") || e.Failed("UNSET") {
		t.Errorf("Failed(I) = %v, Failed(UNSET) = %v", e.Failed("I"), e.Failed("UNSET"))
	}
	err := e.Err()
	for _, want := range []string{`I="4x" is not a whole number`, `I32="5000000000" is not a whole number`, `F="half" is not a number`,
		`D="10" is not a duration`, `B="maybe" is not a boolean`, `MISSING is not set`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Err = %v, want it to say %s", err, want)
		}
	}
}

// The switch vocabulary a ConfigMap may hold (ENABLE_DIRECT_CALL is kept
// there as "false").
func TestBoolVocabulary(t *testing.T) {
	for in, want := range map[string]bool{"1": true, "true": true, "TRUE": true, "yes": true, "on": true,
		"0": false, "false": false, "no": false, "off": false, "Off": false} {
		e := envconf.New(map[string]string{"X": in})
		if got := e.Bool("X", !want); got != want || e.Err() != nil {
			t.Errorf("Bool(%q) = %v, %v", in, got, e.Err())
		}
	}
}
