package testrig_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nova-social/nova/shared/testrig"
)

func TestLogsTakesConcurrentWriters(t *testing.T) {
	var logs testrig.Logs
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&logs, "line %d\n", i) })
	}
	wg.Wait()
	if got := strings.Count(logs.String(), "\n"); got != 8 {
		t.Fatalf("%d lines, want 8: %q", got, logs.String())
	}
}
