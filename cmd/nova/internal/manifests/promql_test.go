package manifests_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// A PromQL reader for the dashboard's queries, enough to refuse what
// Prometheus's parser would refuse in them and to tell which metrics and
// label matchers they use, without the weight of
// github.com/prometheus/prometheus in this module. It knows the syntax
// (selectors, matchers, ranges and subqueries, offset, functions,
// aggregations with by/without, binary operators with bool, on/ignoring and
// group_left/group_right, parentheses, numbers and strings), not the types:
// rate() of an instant vector passes.

// promFunctions are PromQL's functions (Prometheus 3).
var promFunctions = setOf(
	"abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
	"avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
	"count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
	"delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
	"histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "hour", "idelta",
	"increase", "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
	"mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi", "predict_linear",
	"present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn",
	"sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt",
	"stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp",
	"vector", "year")

// promAggregations are PromQL's aggregation operators.
var promAggregations = setOf(
	"avg", "bottomk", "count", "count_values", "group", "limit_ratio", "limitk", "max", "min",
	"quantile", "stddev", "stdvar", "sum", "topk")

var (
	promDuration = regexp.MustCompile(`^(\d+(ms|[smhdwy]))+$`)
	promNumber   = regexp.MustCompile(`^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^0x[0-9a-fA-F]+$|^(?i:inf|nan)$`)
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// promMatcher is one label matcher of a selector.
type promMatcher struct {
	Metric, Label, Op, Value string
}

// promQuery is what a query uses.
type promQuery struct {
	Metrics  []string
	Matchers []promMatcher
}

type promToken struct {
	kind byte // 'i' identifier, 'n' number or duration, 's' string, 'p' punctuation or operator
	text string
	pos  int
}

func lexPromQL(q string) ([]promToken, error) {
	var out []promToken
	ops := []string{"==", "!=", "<=", ">=", "=~", "!~", "+", "-", "*", "/", "%", "^", "<", ">", "=",
		"(", ")", "{", "}", "[", "]", ",", ":", "@"}
	for i := 0; i < len(q); {
		c := rune(q[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for ; j < len(q) && rune(q[j]) != c; j++ {
				if c == '`' {
					continue
				}
				if q[j] == '\n' {
					return nil, fmt.Errorf("at %d: string broken by a newline", i)
				}
				if q[j] == '\\' {
					j++
				}
			}
			if j >= len(q) {
				return nil, fmt.Errorf("at %d: unterminated string", i)
			}
			out = append(out, promToken{'s', q[i : j+1], i})
			i = j + 1
		case c == '_' || unicode.IsLetter(c):
			j := i
			for j < len(q) && (q[j] == '_' || q[j] == ':' || unicode.IsLetter(rune(q[j])) || unicode.IsDigit(rune(q[j]))) {
				j++
			}
			out = append(out, promToken{'i', q[i:j], i})
			i = j
		case unicode.IsDigit(c) || c == '.' && i+1 < len(q) && unicode.IsDigit(rune(q[i+1])):
			j := i
			for j < len(q) && (unicode.IsDigit(rune(q[j])) || unicode.IsLetter(rune(q[j])) || q[j] == '.' ||
				(q[j] == '+' || q[j] == '-') && (q[j-1] == 'e' || q[j-1] == 'E')) {
				j++
			}
			tok := q[i:j]
			if !promNumber.MatchString(tok) && !promDuration.MatchString(tok) {
				return nil, fmt.Errorf("at %d: %q is neither a number nor a duration", i, tok)
			}
			out = append(out, promToken{'n', tok, i})
			i = j
		default:
			found := false
			for _, op := range ops {
				if strings.HasPrefix(q[i:], op) {
					out = append(out, promToken{'p', op, i})
					i += len(op)
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("at %d: unexpected %q", i, c)
			}
		}
	}
	return out, nil
}

type promParser struct {
	toks []promToken
	i    int
	q    promQuery
}

// parsePromQL reads q; Grafana's variables must have been replaced.
func parsePromQL(q string) (promQuery, error) {
	toks, err := lexPromQL(q)
	if err != nil {
		return promQuery{}, err
	}
	if len(toks) == 0 {
		return promQuery{}, fmt.Errorf("empty query")
	}
	p := &promParser{toks: toks}
	if err := p.expr(); err != nil {
		return promQuery{}, err
	}
	if p.i < len(p.toks) {
		return promQuery{}, p.errorf("unexpected %q after the expression", p.peek().text)
	}
	return p.q, nil
}

func (p *promParser) peek() promToken {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return promToken{}
}

func (p *promParser) is(kind byte, text string) bool {
	t := p.peek()
	return t.kind == kind && t.text == text
}

func (p *promParser) errorf(format string, args ...any) error {
	pos := -1
	if p.i < len(p.toks) {
		pos = p.toks[p.i].pos
	}
	if pos < 0 {
		return fmt.Errorf("at the end: "+format, args...)
	}
	return fmt.Errorf("at %d: "+format, append([]any{pos}, args...)...)
}

func (p *promParser) expect(text string) error {
	if !p.is('p', text) {
		if p.i >= len(p.toks) {
			return p.errorf("want %q", text)
		}
		return p.errorf("want %q, got %q", text, p.peek().text)
	}
	p.i++
	return nil
}

var (
	promComparisons = setOf("==", "!=", "<=", ">=", "<", ">")
	promArithmetic  = setOf("+", "-", "*", "/", "%", "^")
	promSetOps      = setOf("and", "or", "unless", "atan2")
)

func (p *promParser) expr() error {
	if err := p.unary(); err != nil {
		return err
	}
	for {
		t := p.peek()
		isOp := t.kind == 'p' && (promComparisons[t.text] || promArithmetic[t.text]) || t.kind == 'i' && promSetOps[t.text]
		if !isOp {
			return nil
		}
		p.i++
		if promComparisons[t.text] && p.is('i', "bool") {
			p.i++
		}
		if p.is('i', "on") || p.is('i', "ignoring") {
			p.i++
			if err := p.labelList(); err != nil {
				return err
			}
			if p.is('i', "group_left") || p.is('i', "group_right") {
				p.i++
				if p.is('p', "(") {
					if err := p.labelList(); err != nil {
						return err
					}
				}
			}
		}
		if err := p.unary(); err != nil {
			return err
		}
	}
}

func (p *promParser) unary() error {
	for p.is('p', "-") || p.is('p', "+") {
		p.i++
	}
	if err := p.primary(); err != nil {
		return err
	}
	if p.is('p', "[") {
		p.i++
		if err := p.duration(); err != nil {
			return err
		}
		if p.is('p', ":") { // a subquery
			p.i++
			if !p.is('p', "]") {
				if err := p.duration(); err != nil {
					return err
				}
			}
		}
		if err := p.expect("]"); err != nil {
			return err
		}
	}
	if p.is('i', "offset") {
		p.i++
		if p.is('p', "-") {
			p.i++
		}
		if err := p.duration(); err != nil {
			return err
		}
	}
	return nil
}

func (p *promParser) duration() error {
	t := p.peek()
	if t.kind != 'n' || !promDuration.MatchString(t.text) {
		return p.errorf("want a duration, got %q", t.text)
	}
	p.i++
	return nil
}

func (p *promParser) primary() error {
	t := p.peek()
	switch {
	case t.kind == 'n':
		p.i++
		return nil
	case t.kind == 's':
		p.i++
		return nil
	case t.kind == 'p' && t.text == "(":
		p.i++
		if err := p.expr(); err != nil {
			return err
		}
		return p.expect(")")
	case t.kind == 'p' && t.text == "{":
		return p.matchers("")
	case t.kind == 'i' && promAggregations[t.text]:
		p.i++
		if p.is('i', "by") || p.is('i', "without") {
			p.i++
			if err := p.labelList(); err != nil {
				return err
			}
		}
		if err := p.args(); err != nil {
			return err
		}
		if p.is('i', "by") || p.is('i', "without") {
			p.i++
			return p.labelList()
		}
		return nil
	case t.kind == 'i' && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == 'p' && p.toks[p.i+1].text == "(":
		if !promFunctions[t.text] {
			return p.errorf("unknown function %s", t.text)
		}
		p.i++
		return p.args()
	case t.kind == 'i':
		switch t.text {
		case "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "atan2":
			return p.errorf("unexpected keyword %s", t.text)
		}
		p.i++
		p.q.Metrics = append(p.q.Metrics, t.text)
		if p.is('p', "{") {
			return p.matchers(t.text)
		}
		return nil
	}
	if p.i >= len(p.toks) {
		return p.errorf("want an expression")
	}
	return p.errorf("unexpected %q", t.text)
}

func (p *promParser) args() error {
	if err := p.expect("("); err != nil {
		return err
	}
	if p.is('p', ")") {
		p.i++
		return nil
	}
	for {
		if err := p.expr(); err != nil {
			return err
		}
		if p.is('p', ")") {
			p.i++
			return nil
		}
		if err := p.expect(","); err != nil {
			return err
		}
	}
}

func (p *promParser) labelList() error {
	if err := p.expect("("); err != nil {
		return err
	}
	for !p.is('p', ")") {
		if t := p.peek(); t.kind != 'i' {
			return p.errorf("want a label name, got %q", t.text)
		}
		p.i++
		if !p.is('p', ")") {
			if err := p.expect(","); err != nil {
				return err
			}
		}
	}
	p.i++
	return nil
}

func (p *promParser) matchers(metric string) error {
	if err := p.expect("{"); err != nil {
		return err
	}
	n := 0
	for !p.is('p', "}") {
		label := p.peek()
		if label.kind != 'i' {
			return p.errorf("want a label name, got %q", label.text)
		}
		p.i++
		op := p.peek()
		if op.kind != 'p' || (op.text != "=" && op.text != "!=" && op.text != "=~" && op.text != "!~") {
			return p.errorf("want =, !=, =~ or !~ after %s, got %q", label.text, op.text)
		}
		p.i++
		val := p.peek()
		if val.kind != 's' {
			return p.errorf("want a quoted value for %s, got %q", label.text, val.text)
		}
		p.i++
		value := unquotePromString(val.text)
		if op.text == "=~" || op.text == "!~" {
			if _, err := regexp.Compile("^(?:" + value + ")$"); err != nil {
				return fmt.Errorf("at %d: %s%s%s: %w", val.pos, label.text, op.text, val.text, err)
			}
		}
		p.q.Matchers = append(p.q.Matchers, promMatcher{Metric: metric, Label: label.text, Op: op.text, Value: value})
		n++
		if !p.is('p', "}") {
			if err := p.expect(","); err != nil {
				return err
			}
		}
	}
	p.i++
	if metric == "" && n == 0 {
		return p.errorf("a selector needs a metric name or a matcher")
	}
	return nil
}

func unquotePromString(s string) string {
	body := s[1 : len(s)-1]
	if s[0] == '`' {
		return body
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			i++
		}
		b.WriteByte(body[i])
	}
	return b.String()
}

// The reader refuses what Prometheus refuses, or the dashboard's check
// would pass anything.
func TestPromQLReader(t *testing.T) {
	good := map[string][]string{
		`sum by (kn_service_name) (rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m]) * on (job, instance) group_left (kn_service_name) target_info{k8s_namespace_name="x"})`: {"http_server_request_duration_seconds_count", "target_info"},
		`histogram_quantile(0.99, sum(rate(a_bucket[5m])) by (le))`:              {"a_bucket"},
		`count(ALERTS{alertname="A", alertstate="firing"}) or vector(0)`:         {"ALERTS"},
		`max by (group) (x) * 2 or max by (group) (y) or max by (group) (z) * 0`: {"x", "y", "z"},
		`sum(increase(c_total[1h])) > 0`:                                         {"c_total"},
		`-a offset 5m / ignoring (le) group_right b`:                             {"a", "b"},
		`max_over_time(rate(c_total[1m])[1h:5m])`:                                {"c_total"},
		`x > bool 1e3`: {"x"},
	}
	for q, want := range good {
		got, err := parsePromQL(q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if strings.Join(got.Metrics, ",") != strings.Join(want, ",") {
			t.Errorf("%s: metrics %v, want %v", q, got.Metrics, want)
		}
	}
	for _, q := range []string{
		`sum(rate(x[5m])`,             // unbalanced
		`rate(x[5m]))`,                // unbalanced
		`x{a="b"`,                     // unbalanced
		`x{a="b}`,                     // unterminated string
		`x{a=b}`,                      // unquoted value
		`x{a=~"("}`,                   // bad regexp
		`rate(x[5])`,                  // no unit
		`rate(x[$__rate_interval])`,   // a variable left in
		`sum by (a (x)`,               // bad label list
		`rates(x[5m])`,                // unknown function
		`x y`,                         // two expressions
		`x +`,                         // missing operand
		`sum by (a) x`,                // aggregation without parentheses
		`x * on (a) group_left (b c)`, // missing comma, and no right-hand side
		``,
	} {
		if _, err := parsePromQL(q); err == nil {
			t.Errorf("%q was accepted", q)
		}
	}
}
