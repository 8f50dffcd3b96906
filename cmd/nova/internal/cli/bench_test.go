package cli_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/load"
	"github.com/nova-social/nova/cmd/nova/internal/system"
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
	if code != 1 || !strings.Contains(errs, "Kafka at "+addr) || !strings.Contains(errs, "connection refused") || !strings.Contains(errs, "--embedded") {
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

// nova bench mixed reads the verification codes from --mail-dir
// (NOVA_MAIL_DIR; by default the mail folder of the repository it runs
// in), and a mail that never arrives fails the setup naming the folder.
func TestBenchMixedMailDir(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/users" {
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"verification_sent"}`)
	}))
	defer api.Close()
	root, err := system.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	viaFlag, viaEnv := t.TempDir(), t.TempDir()
	for _, c := range []struct {
		name, env string
		args      []string
		want      string
	}{
		{"flag", viaEnv, []string{"--mail-dir", viaFlag}, viaFlag},
		{"variable", viaEnv, nil, viaEnv},
		{"default", "", nil, system.MailDir(root)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("NOVA_MAIL_DIR", c.env)
			args := append([]string{"bench", "mixed", "--api", api.URL, "--kafka-brokers", "", "--users", "2", "--mail-timeout", "200ms"}, c.args...)
			code, _, errs := run(t, "", args...)
			for _, want := range []string{"its mail kept in " + c.want + "?", "no verification mail in " + c.want + string(filepath.Separator), "without SMTP_ADDR"} {
				if code != 1 || !strings.Contains(errs, want) {
					t.Errorf("exit %d, stderr %q; want 1 and %q", code, errs, want)
				}
			}
		})
	}
}
