package console

import (
	"net/http"
)

// flowRow is a flow with its figures as the page first shows them; the
// live stream updates them from then on.
type flowRow struct {
	Flow
	Figures Figures
}

type indexBody struct {
	Topics   []Topic
	Flows    []flowRow
	Interval string
	// Error says why the figures could not be read.
	Error string
}

// index is the topology with each flow's figures.
func (c *Console) index(w http.ResponseWriter, _ *http.Request) {
	body := indexBody{Topics: c.topo.Topics, Interval: c.cfg.Interval.String()}
	snap, err := c.snapshot()
	if err != nil {
		body.Error = c.redact(err.Error())
	}
	for _, f := range c.topo.Flows {
		body.Flows = append(body.Flows, flowRow{Flow: f, Figures: snap.Flows[f.ID]})
	}
	c.render(w, http.StatusOK, "index", page{Title: "Event flow", Nav: "flow", Body: body})
}
