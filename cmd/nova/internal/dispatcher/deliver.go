package dispatcher

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/nova-social/nova/cmd/nova/internal/eventbroker"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/telemetry"
)

// errorDataMax is how much of the failed response's body Knative keeps in
// knativeerrordata (before base64).
const errorDataMax = 1024

// errorHeaderPrefix marks response headers that Knative copies onto the
// dead-lettered event as extensions (prefix removed, lower-cased).
const errorHeaderPrefix = "kne-"

// result is the outcome of one HTTP attempt.
type result struct {
	status int // 0 when no response came back
	body   []byte
	header http.Header
	err    error
	// tooLarge marks a Trigger's 2xx whose body exceeds any reply.
	tooLarge bool
}

func (r result) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// retryable is Knative's rule: transport errors (timeouts included), 5xx,
// 404, 408, 409 and 429 are retried; any other status is final.
func (r result) retryable() bool {
	if r.err != nil {
		return true
	}
	switch {
	case r.status >= 500, r.status == 404, r.status == 408, r.status == 409, r.status == 429:
		return true
	}
	return false
}

// post sends e in binary mode to target, bounded by timeout. The response
// body is read only as far as knativeerrordata needs (and, for a Trigger, a
// reply), then drained, so the connection is reused.
func (r *runner) post(ctx context.Context, target *url.URL, audience string, e *cloudevents.Event) result {
	ctx, cancel := context.WithTimeout(ctx, r.src.Delivery.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), nil)
	if err != nil {
		return result{err: err}
	}
	if audience != "" && r.d.cfg.Tokens != nil {
		tok, err := r.d.cfg.Tokens.Token(ctx, r.src.Namespace, r.as.ServiceAccount(), audience)
		if err != nil {
			return result{err: fmt.Errorf("OIDC token for %s: %w", audience, err)}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(e), req); err != nil {
		return result{err: fmt.Errorf("write event: %w", err)}
	}
	if r.d.cfg.Tracer != nil {
		telemetry.InjectHTTP(ctx, req.Header)
	}
	if r.trig != nil {
		// The Kafka Broker's sender asks for replies and says whose
		// Trigger the event comes through.
		req.Header.Set("Prefer", "reply")
		req.Header.Set("Kn-Namespace", r.src.Namespace)
	}
	resp, err := r.d.cfg.HTTPClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	res := result{status: resp.StatusCode, header: resp.Header}
	switch {
	case !res.ok():
		res.body, _ = io.ReadAll(io.LimitReader(resp.Body, errorDataMax))
	case r.trig != nil:
		// A Trigger's subscriber may reply with an event.
		if res.body, err = io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1)); err != nil {
			return result{err: fmt.Errorf("read response: %w", err)}
		}
		if len(res.body) > maxReplyBytes {
			return result{status: res.status, header: res.header, body: res.body[:maxReplyBytes], tooLarge: true}
		}
	}
	// A KafkaSource discards replies, as Knative's does.
	_, _ = io.Copy(io.Discard, resp.Body)
	return res
}

// sleep waits d or until ctx ends, reporting whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// handle delivers one record and reports whether it is done (delivered,
// dead-lettered, or dropped for want of a dead-letter sink), so its offset may
// be committed. It returns false only when ctx ended first.
func (r *runner) handle(ctx context.Context, msg *sarama.ConsumerMessage) bool {
	m := r.d.metrics
	m.inFlight.WithLabelValues(r.ref).Inc()
	defer m.inFlight.WithLabelValues(r.ref).Dec()
	start := time.Now()

	var e cloudevents.Event
	if r.trig == nil {
		e = r.convert(msg)
	} else {
		var ok bool
		if e, ok = r.read(msg); !ok {
			return true
		}
		if !r.admit(&e, msg) {
			return true
		}
	}
	ctx, span := r.startSpan(ctx, msg, &e)
	defer span.End()
	var last result
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			m.retried.WithLabelValues(r.ref).Inc()
			wait := r.src.Delivery.Backoff(attempt)
			retrying(span, attempt, wait, last)
			r.d.log.Info("delivery failed; retrying", "source", r.ref, "sink", r.sink.String(), "topic", msg.Topic,
				"partition", msg.Partition, "offset", msg.Offset, "id", e.ID(), "attempt", attempt, "wait", wait,
				"status", last.status, "error", last.err)
			if !sleep(ctx, wait) {
				return false
			}
		}
		last = r.post(ctx, r.sink, audience(r.src.Sink), &e)
		if ctx.Err() != nil {
			return false
		}
		if last.ok() && r.trig != nil {
			if err := r.repliedOK(ctx, last); err != nil {
				if ctx.Err() != nil {
					return false
				}
				// The delivery itself succeeded, so there is nothing to
				// retry: the Kafka Broker dead-letters the event at once,
				// with knativeerrordest alone.
				r.d.log.Warn("trigger delivery failed on the subscriber's response", "trigger", r.ref,
					"subscriber", r.sink.String(), "id", e.ID(), "status", last.status, "error", err)
				last = result{err: err}
				break
			}
		}
		if last.ok() {
			delivered(span, last)
			m.delivered.WithLabelValues(r.ref).Inc()
			m.latency.WithLabelValues(r.ref, "delivered").Observe(time.Since(start).Seconds())
			return true
		}
		if !last.retryable() || attempt >= int(r.src.Delivery.Retry) {
			break
		}
	}

	failed(span, last)
	if r.dls == nil {
		span.AddEvent("discarded: no dead-letter sink")
		m.discarded.WithLabelValues(r.ref).Inc()
		r.d.log.Error("delivery failed and there is no dead-letter sink; the event is dropped, as Knative drops it",
			"source", r.ref, "sink", r.sink.String(), "topic", msg.Topic, "partition", msg.Partition,
			"offset", msg.Offset, "id", e.ID(), "status", last.status, "error", last.err)
		return true
	}
	dl := deadLetter(e, r.sink, last, msg)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			m.deadLetterRetried.WithLabelValues(r.ref).Inc()
			// Past the source's retries the dead-letter sink is still tried,
			// forever, with the wait capped: the offset must not be committed
			// past an event that is neither delivered nor dead-lettered.
			wait := r.src.Delivery.Backoff(attempt)
			if attempt > int(r.src.Delivery.Retry) {
				wait = max(wait, minDeadLetterWait)
			}
			wait = min(wait, r.d.cfg.DeadLetterBackoffMax)
			if !sleep(ctx, wait) {
				return false
			}
		}
		res := r.post(ctx, r.dls, audience(*r.src.Delivery.DeadLetterSink), &dl)
		if ctx.Err() != nil {
			return false
		}
		if res.ok() && r.trig != nil {
			// The dead-letter sink's response goes through the reply
			// handling too; what it cannot use is only logged, since the
			// event has been dead-lettered either way.
			if err := r.repliedOK(ctx, res); err != nil && ctx.Err() == nil {
				r.d.log.Warn("dead-letter sink's response unusable", "trigger", r.ref,
					"dead_letter_sink", r.dls.String(), "id", e.ID(), "error", err)
			}
		}
		if res.ok() {
			deadLettered(span, r.dls, last)
			r.d.log.Warn("delivery failed; dead-lettered", "source", r.ref, "sink", r.sink.String(), "topic", msg.Topic,
				"partition", msg.Partition, "offset", msg.Offset, "id", e.ID(), "type", e.Type(),
				"status", last.status, "error", last.err)
			m.deadLettered.WithLabelValues(r.ref).Inc()
			m.latency.WithLabelValues(r.ref, "dead_lettered").Observe(time.Since(start).Seconds())
			return true
		}
		if attempt == int(r.src.Delivery.Retry) {
			r.d.log.Error("dead-letter sink refuses the event; retrying until it accepts",
				"source", r.ref, "dead_letter_sink", r.dls.String(), "topic", msg.Topic, "partition", msg.Partition,
				"offset", msg.Offset, "id", e.ID(), "status", res.status, "error", res.err)
		}
	}
}

// deadLetter is e as Knative sends it to the dead-letter sink: with
// knativeerrordest (the sink), knativeerrorcode (the last status, when a
// response came back), knativeerrordata (the last response body, at most 1 KiB,
// base64), the failed response's kne-* headers, and the record's Kafka
// coordinates.
func deadLetter(e cloudevents.Event, sink *url.URL, last result, msg *sarama.ConsumerMessage) cloudevents.Event {
	dl := e.Clone()
	dl.SetExtension(delivery.ExtErrorDest, sink.String())
	if last.status != 0 {
		dl.SetExtension(delivery.ExtErrorCode, strconv.Itoa(last.status))
		for k, vs := range last.header {
			if len(k) > len(errorHeaderPrefix) && strings.EqualFold(k[:len(errorHeaderPrefix)], errorHeaderPrefix) && len(vs) > 0 {
				if name := extensionName(k[len(errorHeaderPrefix):]); name != "" && !isContextAttribute(name) {
					dl.SetExtension(name, vs[0])
				}
			}
		}
		if len(last.body) > 0 {
			dl.SetExtension(delivery.ExtErrorData, base64.StdEncoding.EncodeToString(last.body))
		}
	}
	dl.SetExtension(delivery.ExtKafkaTopic, msg.Topic)
	dl.SetExtension(delivery.ExtKafkaPartition, strconv.FormatInt(int64(msg.Partition), 10))
	dl.SetExtension(delivery.ExtKafkaOffset, strconv.FormatInt(msg.Offset, 10))
	return dl
}

// minDeadLetterWait keeps a failing dead-letter sink from being hammered when
// the source's backoff delay is zero.
const minDeadLetterWait = 10 * time.Millisecond

// audience is the OIDC audience Knative sends a destination's tokens for:
// the destination's own, else the one the object it names publishes in
// its status (a Broker does; a Knative Service publishes none, so a
// Service sink without an audience gets no token).
func audience(d source.Destination) string {
	if d.Audience != "" || d.Ref == nil {
		return d.Audience
	}
	if d.Ref.Kind == "Broker" && strings.HasPrefix(d.Ref.APIVersion, "eventing.knative.dev/") {
		return eventbroker.Broker{Namespace: d.Ref.Namespace, Name: d.Ref.Name}.Audience()
	}
	return ""
}
