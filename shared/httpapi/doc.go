// Package httpapi is the JSON-over-HTTP layer of nova-api (and of any
// HTTP function): one error format, strict request decoding, the
// middleware every endpoint runs behind, server limits and cursor
// pagination.
//
// Errors are always
//
//	{"error": {"code": "not_found", "message": "post not found"}}
//
// with the status the code implies. Handlers return errors instead of
// writing them (Handle): a *Error is shown as it is; anything else is
// logged with its request id and answered 500 "internal" with a generic
// message, so internals (SQL, hostnames, stack traces) never reach a
// caller.
//
// The usual stack, outermost first:
//
//	RequestID → AccessLog → Recoverer → Authenticate → RequireRole → handler
//
// so every log line and error carries the request id, the access log sees
// the 500 a recovered panic becomes, and authentication runs inside the
// recoverer.
package httpapi
