package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/deadletters"
	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/event/delivery"
)

// replayWait bounds a replay: Kafka is asked first (seconds), then each
// record is sent and acknowledged.
const replayWait = 30 * time.Second

// failedRecord is one record as the dead-letter page shows it: the event,
// and each consumer that failed it with its reason whole.
type failedRecord struct {
	Where, Key                  string
	Type, ID, Source, Subject   string
	Time                        time.Time
	Consumers                   []failure
	Pending, Total              int
	Replayable                  bool
	ReplaySource, ReplayID      string
	Attributes                  []attribute
	Data, DataEncoding, Message string
	Trace                       string
}

type failure struct {
	Consumer, Sink string
	Code           int
	Reason         string
	Received       time.Time
	Replayed       *time.Time
}

type deadLettersBody struct {
	Records     []failedRecord
	PendingOnly bool
	Limit       int
	// Note says what a replay did; Error what went wrong.
	Note, Error string
}

// deadLetters lists the dead-letter store, newest first, a record per
// failed record.
func (c *Console) deadLetters(w http.ResponseWriter, r *http.Request) {
	pending := r.URL.Query().Get("pending") == "1"
	c.renderDeadLetters(r.Context(), w, deadLettersBody{PendingOnly: pending})
}

func (c *Console) renderDeadLetters(ctx context.Context, w http.ResponseWriter, body deadLettersBody) {
	body.Limit = c.cfg.DeadLetters
	s, err := deadletters.Open(ctx, c.pool)
	var entries []store.Entry
	if err == nil {
		entries, err = s.List(ctx, store.Filter{Pending: body.PendingOnly, Limit: c.cfg.DeadLetters})
	}
	if err != nil {
		body.Error = strings.TrimSpace(body.Error + "\n" + c.redact(err.Error()))
	}
	for _, g := range deadletters.Group(entries) {
		body.Records = append(body.Records, c.failedRecord(g))
	}
	c.render(w, http.StatusOK, "deadletters", page{Title: "Dead letters", Nav: "dead-letters", Body: body})
}

// errorExtensions are what the dead-letter path added to the event: shown
// per consumer, not among the event's own attributes.
var errorExtensions = []string{delivery.ExtErrorDest, delivery.ExtErrorCode, delivery.ExtErrorData,
	delivery.ExtKafkaTopic, delivery.ExtKafkaPartition, delivery.ExtKafkaOffset}

func (c *Console) failedRecord(g deadletters.Failed) failedRecord {
	first := g.Entries[0]
	fr := failedRecord{
		Where: deadletters.Where(first), Key: deadletters.Key(first),
		Type: first.Type, ID: first.ID, Source: first.Source, Subject: first.Subject, Time: first.EventTime,
		Total: len(g.Entries), Pending: g.Pending(),
	}
	for _, e := range g.Entries {
		fr.Consumers = append(fr.Consumers, failure{Consumer: c.names.Consumer(e), Sink: e.ErrorDest, Code: e.ErrorCode,
			Reason: e.ErrorData, Received: e.ReceivedAt, Replayed: e.ReplayedAt})
		if e.ReplayedAt == nil && fr.ReplayID == "" {
			fr.ReplaySource, fr.ReplayID = e.Source, e.ID
		}
	}
	_, err := deadletters.Record(first)
	fr.Replayable = err == nil && fr.Pending > 0
	for k, v := range first.Event.Extensions() {
		if !slices.Contains(errorExtensions, k) {
			fr.Attributes = append(fr.Attributes, attribute{k, fmt.Sprint(v)})
		}
	}
	slices.SortFunc(fr.Attributes, func(a, b attribute) int { return strings.Compare(a.Name, b.Name) })
	if tp, ok := first.Event.Extensions()[TraceparentExtension]; ok {
		fr.Trace = c.traceLink(fmt.Sprint(tp))
	}
	j := deadletters.AsJSON(c.codec, c.names, first)
	fr.DataEncoding = j.ValueEncoding
	switch v := j.Value.(type) {
	case json.RawMessage:
		fr.Data = indent(v)
	case string:
		fr.Data = v
	}
	fr.Message = indent(j.Message)
	return fr
}

// replay sends one failed record back to its topic, as nova replay
// --source S --id I does: once for every consumer that failed it.
func (c *Console) replay(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "unreadable form", http.StatusBadRequest)
		return
	}
	if !c.validToken(r.PostForm.Get("token")) {
		http.Error(w, "missing or stale console token: reload the console's page and try again", http.StatusForbidden)
		return
	}
	src, id := r.PostForm.Get("source"), r.PostForm.Get("id")
	if src == "" || id == "" {
		http.Error(w, "replay needs the event's source and id", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), replayWait)
	defer cancel()
	body := deadLettersBody{}
	s, err := deadletters.Open(ctx, c.pool)
	if err == nil {
		brokers, sec := c.cfg.Kafka()
		var res deadletters.ReplayResult
		res, err = deadletters.Replay(ctx, s, brokers, sec, store.Filter{Source: src, ID: id, Limit: c.cfg.DeadLetters})
		body.Note = c.summary(res)
		c.log.Info("replayed from the console", "source", src, "id", id, "records", len(res.Written),
			"entries", len(res.Resolved()), "error", err)
	}
	if err != nil {
		body.Error = c.redact(err.Error())
	}
	c.renderDeadLetters(r.Context(), w, body)
}

// summary says what a replay did, as nova replay does.
func (c *Console) summary(res deadletters.ReplayResult) string {
	if len(res.Selected) == 0 {
		return "nothing to replay: no pending dead letter of that event (replayed already?)"
	}
	resolved := res.Resolved()
	msg := fmt.Sprintf("wrote %s for %s", count(len(res.Written), "record", "records"),
		count(len(resolved), "dead-letter entry", "dead-letter entries"))
	if names := c.names.Consumers(resolved); len(names) > 0 {
		msg += " (" + strings.Join(names, ", ") + ")"
	}
	if left := len(res.Selected) - len(resolved); left > 0 {
		msg += fmt.Sprintf("; %s of %d selected left pending", count(left, "entry", "entries"), len(res.Selected))
	}
	return msg
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
