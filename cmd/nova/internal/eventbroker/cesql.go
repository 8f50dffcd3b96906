package eventbroker

import (
	"fmt"

	cesql "github.com/cloudevents/sdk-go/sql/v2"
	"github.com/cloudevents/sdk-go/sql/v2/parser"
	"github.com/cloudevents/sdk-go/sql/v2/utils"
	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// cesqlFilter is a cesql dialect: a CloudEvents SQL expression whose
// result, cast to a boolean, decides. Any evaluation error (a missing
// attribute, a failed cast) makes it false, as the data plane's CeSqlFilter
// catches every exception; unlike an attributes test's failure, a not
// around it then matches.
type cesqlFilter struct {
	expr   string
	parsed cesql.Expression
}

// ParseCESQL parses expr with the Go CESQL parser the eventing webhook
// validates with; a parser panic counts as invalid, as the webhook counts
// it.
func ParseCESQL(expr string) (e cesql.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("parser panicked: %v", r)
		}
	}()
	e, err = parser.Parse(expr)
	if err == nil && e == nil {
		err = fmt.Errorf("empty expression")
	}
	return e, err
}

func newCESQL(expr string) (Filter, error) {
	parsed, err := ParseCESQL(expr)
	if err != nil {
		return nil, fmt.Errorf("cesql %q: %w", expr, err)
	}
	return cesqlFilter{expr: expr, parsed: parsed}, nil
}

func (f cesqlFilter) Match(e cloudevents.Event) (ok bool, _ error) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	v, err := f.parsed.Evaluate(e)
	if err != nil {
		return false, nil
	}
	b, err := utils.Cast(v, cesql.BooleanType)
	if err != nil {
		return false, nil
	}
	ok, _ = b.(bool)
	return ok, nil
}

func (f cesqlFilter) String() string { return "cesql(" + quote(f.expr) + ")" }
