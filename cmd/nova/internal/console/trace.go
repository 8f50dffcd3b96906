package console

import "strings"

// TraceparentExtension is the CloudEvents distributed-tracing extension:
// a W3C traceparent.
const TraceparentExtension = "traceparent"

// TraceID is the trace id of a W3C traceparent of version 00,
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", in lower case
// as the specification requires. Anything else, or an all-zero id, which
// the specification calls invalid, is not a trace: ok is false.
func TraceID(traceparent string) (id string, ok bool) {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || parts[0] != "00" || !lowerHex(parts[1], 32) || !lowerHex(parts[2], 16) || !lowerHex(parts[3], 2) {
		return "", false
	}
	if strings.Trim(parts[1], "0") == "" || strings.Trim(parts[2], "0") == "" {
		return "", false
	}
	return parts[1], true
}

func lowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// traceLink is where an event's trace is shown: the console's own trace
// page when it can read traces (TraceAPI), else the trace UI's; "" when
// neither is set or traceparent names no trace.
func (c *Console) traceLink(traceparent string) string {
	if c.cfg.TraceAPI != "" {
		if id, ok := TraceID(traceparent); ok {
			return "/traces/" + id
		}
		return ""
	}
	return traceLink(c.cfg.TraceURL, traceparent)
}

// traceLink is where the trace UI at base shows the trace of traceparent
// (Jaeger UI's /trace/<id>); "" without a base or a valid traceparent.
func traceLink(base, traceparent string) string {
	if base == "" {
		return ""
	}
	id, ok := TraceID(traceparent)
	if !ok {
		return ""
	}
	return strings.TrimRight(base, "/") + "/trace/" + id
}
