// Package eventfunc is how every Nova event function takes its CloudEvents:
// an http.Handler over sdk-go's HTTP binding, served by func-go's http
// runtime (func.yaml invoke: http), and a Function type that joins it to
// the function's lifecycle.
//
// Why not func-go's cloudevents runtime (invoke: cloudevent)? It serves
// sdk-go's NewHTTPReceiveHandler, which pairs each request with a handler
// goroutine through one shared unbuffered channel, each goroutine waiting
// with its own request's context. When a request ends while its goroutine
// is still waiting (a client gave up, a delivery timed out), that goroutine
// leaves, and a later request's event finds no goroutine: the request
// hangs until its caller times out (cloudevents/sdk-go issues 1224 and
// 1332). With KafkaSource's ordered delivery, one stranded request stalls a
// partition. Here each request is decoded and handled on its own goroutine,
// so a cancelled request can only affect itself. It also answers a
// malformed event with a 400 and its reason (sdk-go's receiver answers an
// empty 500, which the source retries as if it were transient).
package eventfunc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.opentelemetry.io/otel/trace"

	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/sender"
)

// Receive handles one event. Its error decides the answer (delivery.Status):
// nil is a 200; a permanent error a 400, which the source dead-letters; a
// not-ready error a 503 and anything else a 500, which it retries.
type Receive func(ctx context.Context, e event.Event) error

// Error codes in the JSON body of a failed delivery.
const (
	CodeNotACloudEvent   = "not_a_cloudevent"
	CodeInvalidEvent     = "invalid_cloudevent"
	CodeRejected         = "rejected"
	CodeUnavailable      = "unavailable"
	CodeFailed           = "failed"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "payload_too_large"
	CodeInternal         = "internal"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
)

// HandlerConfig says how a Handler answers.
type HandlerConfig struct {
	// MaxBodyBytes bounds an event's body. Default 8 MiB, beyond any record
	// a Kafka broker accepts by default (1 MiB).
	MaxBodyBytes int64
	// Logger receives failed deliveries. Default: discard.
	Logger *slog.Logger
	// Senders, when set, must admit a request's sender before its body is
	// read; the identity is in the context Receive gets (sender.FromContext).
	// Nil admits every request.
	Senders sender.Authenticator
	// Tracer starts a span per delivery, continuing the trace the request's
	// traceparent header names (the dispatcher's span), else the one the
	// event's Distributed Tracing extension names. Nil: no spans.
	Tracer trace.TracerProvider
	// Name is the function's name, on its spans.
	Name string
}

// Defaults fills in what c leaves out.
func (c HandlerConfig) Defaults() HandlerConfig {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 8 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Handler answers HTTP requests that each carry one CloudEvent, in binary
// or structured mode, as Knative's KafkaSource and broker dispatchers and
// `kn func invoke --format cloudevent` send them.
type Handler struct {
	receive  Receive
	cfg      HandlerConfig
	refusals *sender.RefusalLog
}

// NewHandler returns a handler passing each event to receive.
func NewHandler(receive Receive, cfg HandlerConfig) *Handler {
	cfg = cfg.Defaults()
	return &Handler{receive: receive, cfg: cfg, refusals: sender.NewRefusalLog(cfg.Logger, 0)}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			h.cfg.Logger.ErrorContext(r.Context(), "event handler panicked", "panic", p, "stack", string(debug.Stack()))
			writeError(w, http.StatusInternalServerError, CodeInternal, fmt.Sprintf("handler panicked: %v", p))
		}
	}()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "a CloudEvent is delivered with POST")
		return
	}
	if h.cfg.Senders != nil {
		id, err := h.cfg.Senders.Authenticate(r)
		if err != nil {
			status := sender.Status(err)
			code := senderCodes[status]
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			}
			h.refusals.Refused(r.Context(), "sender refused", "status", status, "remote", r.RemoteAddr, "error", err)
			writeError(w, status, code, err.Error())
			return
		}
		r = r.WithContext(sender.NewContext(r.Context(), id))
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	e, status, code, err := decode(r)
	if err != nil {
		h.cfg.Logger.WarnContext(r.Context(), "request is not a valid CloudEvent", "status", status, "error", err)
		writeError(w, status, code, err.Error())
		return
	}
	ctx := r.Context()
	if h.cfg.Tracer != nil {
		var span trace.Span
		ctx, span = h.startSpan(ctx, r.Header, e)
		defer func() { endSpan(span, status) }()
	}
	err = h.receive(ctx, *e)
	status = delivery.Status(err)
	if err == nil {
		// No body: Knative's Kafka dispatchers take a 2xx body for a reply
		// event, and one that is not an event for a failure.
		w.WriteHeader(status)
		return
	}
	code = CodeFailed
	switch status {
	case http.StatusBadRequest:
		code = CodeRejected
	case http.StatusServiceUnavailable:
		code = CodeUnavailable
	}
	h.cfg.Logger.ErrorContext(r.Context(), "event not applied", "id", e.ID(), "type", e.Type(), "source", e.Source(),
		"status", status, "error", err)
	writeError(w, status, code, err.Error())
}

// senderCodes are the JSON error codes of sender.Status's answers.
var senderCodes = map[int]string{
	http.StatusUnauthorized:       CodeUnauthenticated,
	http.StatusForbidden:          CodeForbidden,
	http.StatusServiceUnavailable: CodeUnavailable,
}

// decode reads the request's event with sdk-go's HTTP binding and checks
// the attributes CloudEvents requires.
func decode(r *http.Request) (*event.Event, int, string, error) {
	m := cehttp.NewMessageFromHttpRequest(r)
	defer func() { _ = m.Finish(nil) }()
	if m.ReadEncoding() == binding.EncodingUnknown {
		return nil, http.StatusBadRequest, CodeNotACloudEvent, errors.New(
			"not a CloudEvent: no ce-specversion header (binary mode) and the content type is not application/cloudevents+json (structured mode)")
	}
	e, err := binding.ToEvent(r.Context(), m)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Errorf("event larger than %d bytes", tooLarge.Limit)
		}
		return nil, http.StatusBadRequest, CodeInvalidEvent, fmt.Errorf("malformed CloudEvent: %w", err)
	}
	if err := e.Validate(); err != nil {
		return nil, http.StatusBadRequest, CodeInvalidEvent, fmt.Errorf("invalid CloudEvent: %w", err)
	}
	return e, 0, "", nil
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers with the JSON error shape every Nova endpoint uses;
// the dead-letter sink stores this body as the reason.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: errorDetail{Code: code, Message: message}})
}
