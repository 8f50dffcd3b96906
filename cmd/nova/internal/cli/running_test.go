package cli_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/cmd/nova/internal/cli"
	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/cmd/nova/internal/registry"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// toolVars are the variables that would otherwise decide for the tools.
var toolVars = []string{"KAFKA_BROKERS", "DATABASE_URL", "REDIS_URL", "NOVA_API", "NOVA_MAIL_DIR", "NOVA_ROOT", instance.FunctionURLs,
	kafka.EnvTLS, kafka.EnvTLSCAFile, kafka.EnvTLSCACert, kafka.EnvSASLMech, kafka.EnvSASLUsername, kafka.EnvSASLPassword}

// clearToolVars leaves the tools no variable to go by.
func clearToolVars(t *testing.T) {
	t.Helper()
	for _, k := range toolVars {
		t.Setenv(k, "")
	}
}

// commitGroup gives group a committed offset on topic, so nova lag lists it.
func commitGroup(t *testing.T, addrs []string, sec kafka.Security, group string) {
	t.Helper()
	cl, err := broker.NewClient(addrs, sec)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs := kadm.Offsets{}
	offs.AddOffset(catalog.MediaEvents, 0, 0, -1)
	if err := kadm.NewClient(cl).CommitAllOffsets(context.Background(), group, offs); err != nil {
		t.Fatal(err)
	}
}

// exitedPID is the pid of a process that has ended.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// A tool takes a setting from its flag, else its variable, else the
// running Nova's .nova/env, else its built-in default, and says so when
// it falls back to a default because no running Nova was found. The
// file's Kafka login goes only with the file's brokers; nova env prints
// the file as exports a shell can eval.
func TestToolsFindTheRunningNova(t *testing.T) {
	clearToolVars(t)
	root := t.TempDir()
	t.Setenv("NOVA_ROOT", root)
	// The running Nova's Kafka demands a login; another one does not.
	password := "pw-" + testrig.ID()
	ours := testrig.Kafka(t, testrig.KafkaSASL("nova-admin", password))
	other := testrig.Kafka(t)
	commitGroup(t, ours.ListenAddrs(), ours.Security(), "from-file")
	commitGroup(t, other.ListenAddrs(), kafka.Security{}, "from-env")
	f := newReplayFixture(t)
	dl, _ := f.deadLetter(created(id.NewPostID().String(), id.NewUserID().String()), 500, "boom")
	mailDir := filepath.Join(root, "a folder", "it's mail")
	vars := []instance.Var{
		{Key: "KAFKA_BROKERS", Value: strings.Join(ours.ListenAddrs(), ",")},
		{Key: kafka.EnvSASLMech, Value: "SCRAM-SHA-512"},
		{Key: kafka.EnvSASLUsername, Value: "nova-admin"},
		{Key: kafka.EnvSASLPassword, Value: password},
		{Key: "DATABASE_URL", Value: f.dsn},
		{Key: "NOVA_MAIL_DIR", Value: mailDir},
	}
	path := instance.Path(root)
	if err := instance.Write(path, os.Getpid(), vars); err != nil {
		t.Fatal(err)
	}

	// The file alone: its Kafka with its login, its database, no notice.
	code, out, errs := run(t, "", "lag")
	if code != 0 || !strings.Contains(out, "from-file") || errs != "" {
		t.Fatalf("lag from the file: %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, "", "dead-letters")
	if code != 0 || !strings.Contains(out, dl.ID()) || errs != "" {
		t.Fatalf("dead-letters from the file: %d %q %q", code, out, errs)
	}

	// The variable wins over the file, and the file's login stays with
	// the file's brokers (the other Kafka takes no login: sent one, it
	// would refuse the connection).
	t.Setenv("KAFKA_BROKERS", strings.Join(other.ListenAddrs(), ","))
	code, out, errs = run(t, "", "lag")
	if code != 0 || !strings.Contains(out, "from-env") || strings.Contains(out, "from-file") {
		t.Fatalf("lag with KAFKA_BROKERS set: %d %q %q", code, out, errs)
	}
	// The flag wins over the variable.
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:1")
	code, out, errs = run(t, "", "lag", "--kafka-brokers", strings.Join(other.ListenAddrs(), ","))
	if code != 0 || !strings.Contains(out, "from-env") {
		t.Fatalf("lag --kafka-brokers with KAFKA_BROKERS set: %d %q %q", code, out, errs)
	}
	t.Setenv("KAFKA_BROKERS", "")
	missing := "nova_missing_" + testrig.ID()
	t.Setenv("DATABASE_URL", withDatabase(t, f.dsn, missing))
	if code, _, errs := run(t, "", "dead-letters"); code != 1 || !strings.Contains(errs, missing) {
		t.Fatalf("dead-letters with DATABASE_URL set: %d %q, want the variable's database", code, errs)
	}
	t.Setenv("DATABASE_URL", "")

	// nova env: exports a shell reads back exactly.
	code, out, errs = run(t, "", "env")
	if code != 0 || !strings.Contains(out, "export KAFKA_BROKERS=") {
		t.Fatalf("env: %d %q %q", code, out, errs)
	}
	sh, err := exec.Command("sh", "-c", out+"\nprintf '%s|%s|%s' \"$KAFKA_BROKERS\" \"$NOVA_MAIL_DIR\" \"$KAFKA_SASL_PASSWORD\"").Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	if want := strings.Join(ours.ListenAddrs(), ",") + "|" + mailDir + "|" + password; string(sh) != want {
		t.Errorf("eval \"$(nova env)\" set %q, want %q", sh, want)
	}

	// A file left by a run that has stopped is not trusted.
	pid := exitedPID(t)
	if err := instance.Write(path, pid, vars); err != nil {
		t.Fatal(err)
	}
	notice := "no running Nova found (" + path + " is left from nova run pid "
	_, _, errs = run(t, "", "dead-letters")
	if !strings.Contains(errs, notice) || !strings.Contains(errs, "using the built-in default --database-url "+system.DefaultDatabaseURL) {
		t.Errorf("dead-letters with a stale file: stderr %q", errs)
	}
	if code, _, errs := run(t, "", "env"); code != 1 || !strings.Contains(errs, "which has stopped") {
		t.Errorf("env with a stale file: %d %q", code, errs)
	}
	// No file at all.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, _, errs = run(t, "", "lag")
	if !strings.Contains(errs, "no running Nova found (no "+path+": make run starts one): using the built-in default --kafka-brokers 127.0.0.1:9092") {
		t.Errorf("lag without a file: stderr %q", errs)
	}
	// A listing does not mention the Kafka it does not use.
	_, _, errs = run(t, "", "dead-letters", "--database-url", f.dsn)
	if errs != "" {
		t.Errorf("dead-letters with its database given: stderr %q", errs)
	}
}

// nova run writes where it serves to its .nova/env (its owner's only),
// the tools started in its checkout find it there with no flag or
// variable (its Kafka's TLS and login included), and it is gone once the
// run stops.
func TestRunTellsTheToolsWhereItIs(t *testing.T) {
	clearToolVars(t)
	dsn := testrig.PostgresURL(t)
	r := startRun(t, dsn)
	root, path := r.root, r.path
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}
	file, err := instance.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	get := func(k string) string { v, _ := file.Get(k); return v }
	if file.PID != os.Getpid() || get("DATABASE_URL") != dsn || get(kafka.EnvSASLUsername) != system.KafkaAdmin ||
		get(kafka.EnvTLS) != "true" || get("NOVA_MAIL_DIR") != system.MailDir(root) || get("KAFKA_BROKERS") == "" {
		t.Errorf("%s holds %+v", path, file)
	}
	if _, err := os.Stat(get(kafka.EnvTLSCAFile)); err != nil {
		t.Errorf("the CA file it names: %v", err)
	}
	// Every function's address, for nova dead-letters to name the
	// function a dead letter's knativeerrordest is.
	hosted := map[string]string{}
	for _, fn := range instance.ParseFunctionURLs(get(instance.FunctionURLs)) {
		hosted[fn.Name] = fn.URL
	}
	for _, fn := range registry.Functions() {
		if hosted[fn.Name] == "" {
			t.Errorf("%s names no address for %s: %q", path, fn.Name, get(instance.FunctionURLs))
		}
	}
	if hosted["nova-api"] != get("NOVA_API") || hosted["realtime-gateway"] != get("NOVA_REALTIME_GATEWAY_URL") {
		t.Errorf("%s: function addresses %v disagree with NOVA_API %s, NOVA_REALTIME_GATEWAY_URL %s", path, hosted, get("NOVA_API"), get("NOVA_REALTIME_GATEWAY_URL"))
	}
	for _, k := range []string{"NOVA_API", "NOVA_REALTIME_GATEWAY_URL"} {
		res, err := http.Get(get(k) + "/health/liveness")
		if err != nil {
			t.Errorf("%s %s: %v", k, get(k), err)
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s %s answers %d", k, get(k), res.StatusCode)
		}
	}

	// The console, at the address the file names (runArgs picks a free
	// port).
	if res, err := http.Get(get(instance.ConsoleURL)); err != nil {
		t.Errorf("%s %q: %v", instance.ConsoleURL, get(instance.ConsoleURL), err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("the console at %s answers %d", get(instance.ConsoleURL), res.StatusCode)
		}
	}

	// The tools, started inside the checkout with nothing set.
	t.Chdir(filepath.Join(root, "functions", "dead-letter"))
	code, out, errs := run(t, "", "dead-letters")
	if code != 0 || !strings.Contains(out, "no dead letters") || errs != "" {
		t.Errorf("dead-letters: %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, "", "send", "com.nova.content.post.deleted", deletedJSON())
	if code != 0 || !strings.Contains(out, "to content-events") || errs != "" {
		t.Fatalf("send: %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, "", "tail", "--from-beginning", "-n", "1", "--compact", catalog.ContentEvents)
	if code != 0 || !strings.Contains(out, "com.nova.content.post.deleted") {
		t.Errorf("tail: %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, "", "lag")
	if code != 0 || errs != "" {
		t.Errorf("lag: %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, "", "env")
	if code != 0 || !strings.Contains(out, "export KAFKA_BROKERS="+get("KAFKA_BROKERS")) {
		t.Errorf("env: %d %q %q", code, out, errs)
	}

	r.stop(t)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s is still there after the run stopped (%v)\n%s", path, err, r.output())
	}
	_, _, errs = run(t, "", "lag")
	if !strings.Contains(errs, "no running Nova found (no "+path) {
		t.Errorf("lag after the run stopped: stderr %q", errs)
	}
}

// aRun is a nova run in a scratch checkout, started by startRun.
type aRun struct {
	root, path string // the checkout and its .nova/env
	cancel     context.CancelFunc
	done       chan int
	out, errs  syncBuffer
}

// startRun starts nova run in-process in a checkout of its own (see
// checkout), on the database at dsn and free ports, with any extra flags,
// and waits for its .nova/env. It is stopped when the test ends, if stop
// was not called before.
func startRun(t *testing.T, dsn string, extra ...string) *aRun {
	t.Helper()
	r := &aRun{root: checkout(t), done: make(chan int, 1)}
	r.path = instance.Path(r.root)
	args := append(append(runArgs(t, r.root, dsn), "--data-dir", t.TempDir()), extra...)
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	go func() {
		r.done <- cli.Main(ctx, args, cli.Streams{In: strings.NewReader(""), Out: &r.out, Err: &r.errs})
	}()
	t.Cleanup(func() { r.stop(t) })
	deadline := time.Now().Add(120 * time.Second)
	for {
		if _, err := os.Stat(r.path); err == nil {
			return r
		}
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("nova run ended with %d before writing %s\n%s", code, r.path, r.output())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 2 minutes\n%s", r.path, r.output())
		}
	}
}

// stop ends the run and waits for it; stopping twice is harmless.
func (r *aRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
	case <-time.After(60 * time.Second):
		t.Fatal("nova run did not stop within a minute")
	}
}

// output is what the run printed so far.
func (r *aRun) output() string { return r.out.String() + r.errs.String() }
