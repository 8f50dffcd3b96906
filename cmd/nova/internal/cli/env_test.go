package cli_test

import (
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/testrig"
)

// A flag not given takes the variable its usage names, parsed as the flag
// would parse it; a bad value stops the command with both names.
func TestFlagsFallBackToTheirVariables(t *testing.T) {
	for _, c := range []struct{ env, value, cmd, want string }{
		{"NOVA_PORT_BASE", "abc", "run", `invalid value "abc" in NOVA_PORT_BASE for flag -port-base: parse error`},
		{"NOVA_KAFKA_PORT", "9092x", "run", `invalid value "9092x" in NOVA_KAFKA_PORT for flag -kafka-port`},
		{"NOVA_LOG_LEVEL", "loud", "run", `invalid value "loud" in NOVA_LOG_LEVEL for flag -log-level`},
		{"NOVA_LOG_LEVEL", "chatty", "deploy-check", `invalid value "chatty" in NOVA_LOG_LEVEL for flag -log-level`},
	} {
		t.Run(c.env+"="+c.value, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			code, _, errs := run(t, "", c.cmd)
			if code != 2 || !strings.Contains(errs, c.want) {
				t.Fatalf("nova %s: exit %d, stderr %q; want 2 and %q", c.cmd, code, errs, c.want)
			}
		})
	}

	k := testrig.Kafka(t)
	brokers := strings.Join(k.ListenAddrs(), ",")
	t.Setenv("KAFKA_BROKERS", brokers)
	if code, _, errs := run(t, "", "lag"); code != 0 {
		t.Fatalf("nova lag with KAFKA_BROKERS=%s: exit %d, stderr %q", brokers, code, errs)
	}
	// The command line wins over the variable.
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:1")
	if code, _, errs := run(t, "", "lag", "--kafka-brokers", brokers); code != 0 {
		t.Fatalf("nova lag --kafka-brokers with a bad KAFKA_BROKERS: exit %d, stderr %q", code, errs)
	}
}
