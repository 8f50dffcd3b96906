// Package envconf reads a process's settings from its environment (a
// function's func.yaml run.envs, as func-go hands them to Start) as typed
// values. A value that does not parse is an error naming the variable, and
// every such error is kept, so one start-up reports every bad setting at
// once; nothing malformed silently becomes its default.
//
// An unset or empty variable leaves the default: a ConfigMap carries a
// setting switched off as "". Lists are the exception (Strings): a variable
// that is present but empty is the empty list, so a deployment can clear a
// default list.
package envconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Env reads one environment.
type Env struct {
	vars   map[string]string
	errs   []error
	failed map[string]bool
}

// New reads vars.
func New(vars map[string]string) *Env { return &Env{vars: vars} }

// Err joins every error so far, or is nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }

func (e *Env) fail(name, v, want string) {
	e.errs = append(e.errs, fmt.Errorf("%s=%q is not %s", name, v, want))
	if e.failed == nil {
		e.failed = map[string]bool{}
	}
	e.failed[name] = true
}

// Failed says whether name's value was refused, so a caller's own checks
// of it (a range, say) need not report it twice.
func (e *Env) Failed(name string) bool { return e.failed[name] }

func (e *Env) value(name string) (string, bool) {
	v := strings.TrimSpace(e.vars[name])
	return v, v != ""
}

// String is name's value, or def.
func (e *Env) String(name, def string) string {
	if v, ok := e.value(name); ok {
		return v
	}
	return def
}

// Required is name's value; an unset one is an error.
func (e *Env) Required(name string) string {
	v, ok := e.value(name)
	if !ok {
		e.errs = append(e.errs, fmt.Errorf("%s is not set", name))
	}
	return v
}

// Int is name's value as a whole number of at most 32 bits, or def.
func (e *Env) Int(name string, def int) int {
	v, ok := e.value(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		e.fail(name, v, "a whole number")
		return def
	}
	return int(n)
}

// Int64 is name's value as a whole number, or def.
func (e *Env) Int64(name string, def int64) int64 {
	v, ok := e.value(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		e.fail(name, v, "a whole number")
		return def
	}
	return n
}

// Float is name's value as a number, or def.
func (e *Env) Float(name string, def float64) float64 {
	v, ok := e.value(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.fail(name, v, "a number")
		return def
	}
	return f
}

// Duration is name's value as a Go duration ("1h30m"), or def.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.value(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.fail(name, v, `a duration such as "30s" or "1h"`)
		return def
	}
	return d
}

// Bool is name's value as a switch: true, 1, yes, on or false, 0, no, off
// (any case), or def.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.value(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	e.fail(name, v, "a boolean (true/false, 1/0, yes/no, on/off)")
	return def
}

// Strings is name's value cut at sep, each item trimmed and blank ones
// dropped; def when the variable is absent. Present but empty is the empty
// list.
func (e *Env) Strings(name, sep string, def []string) []string {
	raw, present := e.vars[name]
	if !present {
		return def
	}
	out := []string{}
	for _, s := range strings.Split(raw, sep) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
