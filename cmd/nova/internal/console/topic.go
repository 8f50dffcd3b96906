package console

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/records"
)

// topicRead bounds reading a topic's last records.
const topicRead = 10 * time.Second

// event is one record as the topic page shows it.
type event struct {
	records.Line
	// Attributes are the CloudEvents extensions, sorted by name.
	Attributes []attribute
	// Pretty is the data, indented.
	Pretty string
	// Trace links to the event's trace; "" without one.
	Trace string
}

type attribute struct{ Name, Value string }

type topicBody struct {
	Topic  Topic
	N      int
	Events []event
	Error  string
}

// topic shows the latest records of a topic, decoded.
func (c *Console) topic(w http.ResponseWriter, r *http.Request) {
	t, ok := c.topo.Topic(r.PathValue("topic"))
	if !ok {
		// Only the topics the run knows: the page is not a way to probe
		// Kafka for others.
		http.NotFound(w, r)
		return
	}
	n := c.cfg.Events
	if v := r.URL.Query().Get("n"); v != "" {
		if k, err := strconv.Atoi(v); err == nil && k >= 1 && k <= MaxEvents {
			n = k
		}
	}
	body := topicBody{Topic: t, N: n}
	ctx, cancel := context.WithTimeout(r.Context(), topicRead)
	defer cancel()
	brokers, sec := c.cfg.Kafka()
	lines, err := records.Latest(ctx, brokers, sec, c.codec, t.Name, n)
	if err != nil {
		body.Error = c.redact(err.Error())
	}
	for _, l := range lines {
		body.Events = append(body.Events, c.event(l))
	}
	c.render(w, http.StatusOK, "topic", page{Title: t.Name, Nav: "flow", Body: body})
}

func (c *Console) event(l records.Line) event {
	e := event{Line: l}
	for k, v := range l.Extensions {
		e.Attributes = append(e.Attributes, attribute{k, v})
	}
	slices.SortFunc(e.Attributes, func(a, b attribute) int { return strings.Compare(a.Name, b.Name) })
	e.Pretty = indent(l.Data)
	e.Trace = c.traceLink(l.Extensions[TraceparentExtension])
	return e
}

// indent is JSON made readable; "" for none.
func indent(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}
