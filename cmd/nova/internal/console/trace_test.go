package console

import "testing"

func TestTraceIDTakesOnlyWellFormedTraceparents(t *testing.T) {
	const trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"00-" + trace + "-" + span + "-01", trace},
		{"00-" + trace + "-" + span + "-00", trace},
		{"", ""},
		{"01-" + trace + "-" + span + "-01", ""}, // only version 00 has this form
		{"ff-" + trace + "-" + span + "-01", ""}, // an invalid version
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-" + span + "-01", ""}, // upper case
		{"00-00000000000000000000000000000000-" + span + "-01", ""}, // all-zero trace id
		{"00-" + trace + "-0000000000000000-01", ""},                // all-zero parent id
		{"00-" + trace[1:] + "-" + span + "-01", ""},                // short trace id
		{"00-" + trace + "-" + span + "-1", ""},                     // short flags
		{"00-" + trace + "-" + span + "-01-extra", ""},              // more fields
		{"00-" + trace + "-" + span + "-0g", ""},                    // not hex
		{" 00-" + trace + "-" + span + "-01", ""},                   // padding
		{"00_" + trace + "_" + span + "_01", ""},
	} {
		got, ok := TraceID(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("TraceID(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestTraceLinkIsJaegersTracePage(t *testing.T) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if got, want := traceLink("http://127.0.0.1:16686/", tp), "http://127.0.0.1:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"; got != want {
		t.Errorf("link %q, want %q", got, want)
	}
	if got := traceLink("", tp); got != "" {
		t.Errorf("no trace UI, link %q", got)
	}
	if got := traceLink("http://127.0.0.1:16686", "garbage"); got != "" {
		t.Errorf("malformed traceparent, link %q", got)
	}
}

// Messages shown on a page lose this run's Kafka login and database
// password, whatever quoted them.
func TestRedactTakesOutTheRunsSecrets(t *testing.T) {
	c := &Console{cfg: Config{
		DatabaseURL: "postgres://nova:db-pass-123@127.0.0.1:5432/nova",
	}}
	c.cfg.Kafka = func() ([]string, kafkaSecurity) {
		return nil, kafkaSecurity{Username: "nova-admin", Password: "kafka-pass-456"}
	}
	got := c.redact(`Kafka at x (SCRAM-SHA-512 user nova-admin) refused kafka-pass-456; postgres://nova:db-pass-123@host`)
	for _, secret := range []string{"nova-admin", "kafka-pass-456", "db-pass-123"} {
		if contains(got, secret) {
			t.Errorf("%q still holds %q", got, secret)
		}
	}
}
