package cli_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/load"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/testrig"
)

// nova bench with the perf-test flags prints both runs and the comparison,
// and deletes the topic it created; the records did reach it (the run
// reports every one acknowledged, none failed).
func TestBenchProducer(t *testing.T) {
	k := testrig.Kafka(t)
	brokers := strings.Join(k.ListenAddrs(), ",")
	topic := "bench-" + testrig.ID()
	code, out, errs := run(t, "", "bench", "--kafka-brokers", brokers, "--topic", topic,
		"--num-records", "500", "--record-size", "256", "--throughput", "-1", "--reporting-interval", "0")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if n := strings.Count(out, "500 records sent, "); n != 2 {
		t.Errorf("want two closing lines of 500 records, got %d in:\n%s", n, out)
	}
	for _, want := range []string{"== nova:", "== raw (baseline)", "nova/raw throughput:", "ms 99.9th."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if created, err := load.EnsureTopic(ctx, k.ListenAddrs(), kafka.Security{}, topic, 1); err != nil || !created {
		t.Errorf("topic %s still there after the run (created again: %v, %v)", topic, created, err)
	}
}

// With no broker to reach, nova bench says so and how to get one.
func TestBenchProducerNoBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	code, out, errs := run(t, "", "bench", "--kafka-brokers", addr, "--num-records", "10")
	if code != 1 || !strings.Contains(errs, "no Kafka broker reachable at "+addr) || !strings.Contains(errs, "--embedded") {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, errs, out)
	}
}

// Flags that cannot work are a usage error, before anything connects.
func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--num-records", "0"},
		{"bench", "--record-size", "-5"},
		{"bench", "mixed", "--mix", "post=1,dance=2"},
		{"bench", "mixed", "--users", "1"},
	} {
		if code, _, errs := run(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errs)
		}
	}
}
