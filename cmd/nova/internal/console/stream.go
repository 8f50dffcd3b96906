package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// streamWrite bounds each write of the live stream: a browser that stops
// reading is let go instead of holding the handler.
const streamWrite = 10 * time.Second

// stream pushes every flow's figures each interval as Server-Sent Events
// ("figures", a Snapshot in JSON), until the page goes away or the
// console closes.
func (c *Console) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A browser reconnects by itself after a second when the stream ends.
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil {
		return
	}
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	var prev Snapshot
	for {
		snap, err := c.snapshot()
		if err != nil {
			c.log.Warn("live figures", "error", err)
		} else {
			snap, prev = snap.withRates(prev), snap
			data, err := json.Marshal(snap)
			if err != nil {
				c.log.Error("live figures", "error", err)
				return
			}
			_ = rc.SetWriteDeadline(time.Now().Add(streamWrite))
			if _, err := fmt.Fprintf(w, "event: figures\ndata: %s\n\n", data); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-c.closing:
			return
		case <-tick.C:
		}
	}
}
