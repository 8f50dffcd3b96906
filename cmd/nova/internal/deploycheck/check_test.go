package deploycheck_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/cmd/nova/internal/deploycheck"
)

// version keeps these tests' root module apart from make deploy-check's in
// the module cache.
const version = "v0.0.0-deploychecktest"

// fakeRepo is a repository shaped like Nova's, small enough to build in
// seconds: a root HTTP function, functions/echo (a CloudEvents function
// using a package of the root module through the usual local replace), and
// functions/stuck, which never becomes ready. The functions check in Start
// that their environment is exactly what the check promises.
func fakeRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                      "module github.com/nova-social/nova\n\ngo 1.26.0\n",
		".funcignore":                 "/functions\n",
		"lib/lib.go":                  "package lib\n\n// Answer is what the functions say.\nconst Answer = \"42\"\n",
		"eventing/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - config/nova-config.yaml\n",
		"eventing/config/nova-config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nova-config\ndata:\n" +
			"  DATABASE_URL: postgres://nova@nova-postgres:5432/nova\n  REDIS_URL: redis://nova-redis:6379/0\n" +
			"  KAFKA_BROKERS: nova-kafka:9092\n  GREETING: hello\n  NOVA_JWKS_URL: http://nova-api/v1/.well-known/jwks.json\n  NOVA_API_URL: http://nova-api\n" +
			"  S3_ENDPOINT: minio:9000\n  S3_BUCKET: media\n  S3_USE_SSL: \"true\"\n" +
			"  NOVA_OIDC_DISCOVERY_URL: https://kubernetes.default.svc\n  SMTP_ADDR: smtp.example.com:587\n  SMTP_TLS: starttls\n",
		"func.yaml": "specVersion: 0.36.0\nname: nova-api\nruntime: go\ninvoke: http\nrun:\n  envs:\n" +
			"  - name: DATABASE_URL\n    value: '{{ configMap:nova-config:DATABASE_URL }}'\n" +
			"  - name: REDIS_URL\n    value: '{{ configMap:nova-config:REDIS_URL }}'\n" +
			"  - name: NOVA_JWT_PRIVATE_KEY\n    value: '{{ secret:nova-jwt:NOVA_JWT_PRIVATE_KEY }}'\n" +
			"  - name: GREETING\n    value: '{{ configMap:nova-config:GREETING }}, world'\n" +
			"  - name: SMTP_ADDR\n    value: '{{ configMap:nova-config:SMTP_ADDR }}'\n" +
			"  - name: SMTP_TLS\n    value: '{{ configMap:nova-config:SMTP_TLS }}'\n" +
			"  - name: SMTP_USERNAME\n    value: '{{ secret:nova-smtp:SMTP_USERNAME }}'\n" +
			"  - name: SMTP_PASSWORD\n    value: '{{ secret:nova-smtp:SMTP_PASSWORD }}'\n",
		"function.go": `package function

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/nova-social/nova/lib"
)

type F struct{}

func New() *F { return &F{} }

// Start refuses what no deployment could run with; unreachable servers
// only make it not ready, as Nova's functions behave.
func (*F) Start(context.Context, map[string]string) error {
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "DATABASE_URL", "REDIS_URL", "NOVA_JWT_PRIVATE_KEY", "GREETING", "LISTEN_ADDRESS", "NOVA_SERVICEACCOUNT_DIR",
			"SMTP_ADDR", "SMTP_TLS", "SMTP_USERNAME", "SMTP_PASSWORD":
		default:
			return fmt.Errorf("variable %s is not in run.envs", k)
		}
	}
	if k := os.Getenv("NOVA_JWT_PRIVATE_KEY"); !strings.HasPrefix(k, "-----BEGIN PRIVATE KEY-----") {
		return fmt.Errorf("NOVA_JWT_PRIVATE_KEY %q", k)
	}
	if g := os.Getenv("GREETING"); g != "hello, world" {
		return fmt.Errorf("GREETING %q", g)
	}
	if os.Getenv("SMTP_USERNAME") == "" || os.Getenv("SMTP_PASSWORD") == "" {
		return fmt.Errorf("no SMTP login")
	}
	return nil
}

func (*F) Ready(context.Context) (bool, error) {
	if u := os.Getenv("DATABASE_URL"); !strings.HasPrefix(u, "postgres://postgres@127.0.0.1:5432/nova_deploycheck_") {
		return false, fmt.Errorf("nova-api: not ready: attempt 1 failed: DATABASE_URL %s does not answer", u)
	}
	if u := os.Getenv("REDIS_URL"); !strings.HasPrefix(u, "redis://127.0.0.1:6379/") {
		return false, fmt.Errorf("nova-api: not ready: attempt 1 failed: REDIS_URL %s does not answer", u)
	}
	// The check's mail sink, in the clear on the loopback.
	if a, tls := os.Getenv("SMTP_ADDR"), os.Getenv("SMTP_TLS"); !strings.HasPrefix(a, "127.0.0.1:") || tls != "none" {
		return false, fmt.Errorf("nova-api: not ready: SMTP_ADDR %s (SMTP_TLS %s) does not answer", a, tls)
	}
	return true, nil
}

func (*F) Handle(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, lib.Answer) }
`,
		"functions/echo/go.mod": "module github.com/nova-social/nova/functions/echo\n\ngo 1.26.0\n\nrequire github.com/nova-social/nova v0.0.0\n\nreplace github.com/nova-social/nova => ../..\n",
		"functions/echo/func.yaml": "specVersion: 0.36.0\nname: echo\nruntime: go\ninvoke: cloudevent\nrun:\n  envs:\n" +
			"  - name: KAFKA_BROKERS\n    value: '{{ configMap:nova-config:KAFKA_BROKERS }}'\n",
		"functions/echo/function.go": `package echo

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/nova-social/nova/lib"
)

type F struct{}

func New() *F { return &F{} }

func (*F) Start(context.Context, map[string]string) error {
	if lib.Answer != "42" {
		return fmt.Errorf("lib.Answer %q", lib.Answer)
	}
	return nil
}

func (*F) Ready(context.Context) (bool, error) {
	if b := os.Getenv("KAFKA_BROKERS"); !strings.HasPrefix(b, "127.0.0.1:") {
		return false, fmt.Errorf("echo: not ready: attempt 1 failed: KAFKA_BROKERS %q does not answer", b)
	}
	return true, nil
}

func (*F) Handle(context.Context) error { return nil }
`,
		"functions/stuck/go.mod":    "module github.com/nova-social/nova/functions/stuck\n\ngo 1.26.0\n",
		"functions/stuck/func.yaml": "specVersion: 0.36.0\nname: stuck\nruntime: go\ninvoke: http\n",
		"functions/stuck/function.go": `package stuck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
)

type F struct{}

func New() *F { return &F{} }

func (*F) Start(context.Context, map[string]string) error {
	fmt.Fprintln(os.Stderr, "stuck: waiting for a database that never comes")
	return nil
}

func (*F) Ready(context.Context) (bool, error) {
	return false, errors.New("stuck: not ready: attempt 1 failed: the database never answers")
}

func (*F) Handle(http.ResponseWriter, *http.Request) {}
`,
	}
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "--quiet", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "fake Nova"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func TestRunBuildsStartsAndStops(t *testing.T) {
	repo := fakeRepo(t)
	var out strings.Builder
	rep, err := deploycheck.Run(context.Background(), deploycheck.Config{
		Root: repo, Version: version, Only: []string{"nova-api", "echo"}, Out: &out,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(rep.Functions) != 2 {
		t.Fatalf("checked %d functions", len(rep.Functions))
	}
	for _, f := range rep.Functions {
		if f.Err != nil || f.Size == 0 || f.Build == 0 || f.Waiting == 0 || f.Ready == 0 {
			t.Errorf("%s: %+v", f.Name, f)
		}
	}
	for _, want := range []string{"nova-api", "echo", "WAITING AFTER", "READY AFTER", "MB", "ok"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(rep.WorkDir); !os.IsNotExist(err) {
		t.Errorf("work folder %s left behind (%v)", rep.WorkDir, err)
	}
	if exists(t, rep.Database) {
		t.Errorf("database %s not dropped", rep.Database)
	}
	// The copied contexts were built, not the repository.
	if _, err := os.Stat(filepath.Join(repo, ".func")); !os.IsNotExist(err) {
		t.Errorf("the check wrote into the repository: %v", err)
	}
}

func TestRunNamesAFunctionThatIsNotReady(t *testing.T) {
	repo := fakeRepo(t)
	var out strings.Builder
	rep, err := deploycheck.Run(context.Background(), deploycheck.Config{
		Root: repo, Version: version, Only: []string{"stuck"}, ReadyTimeout: 2 * time.Second, Out: &out,
	})
	if err == nil {
		t.Fatalf("a function that is never ready passed:\n%s", out.String())
	}
	for _, want := range []string{"function stuck not ready after 2s", "readiness 500", "the database never answers", "stuck: waiting for a database that never comes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if f := rep.Functions[0]; f.Err == nil || f.Size == 0 {
		t.Errorf("stuck: %+v", f)
	}
	if !strings.Contains(out.String(), "FAILED") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestRunRefusesWhatADeployWouldRefuse(t *testing.T) {
	repo := fakeRepo(t)
	// A Secret the check knows nothing about: the error names it, before
	// anything is built.
	os.WriteFile(filepath.Join(repo, "functions/echo/func.yaml"), []byte("specVersion: 0.36.0\nname: echo\nruntime: go\ninvoke: cloudevent\nrun:\n  envs:\n"+
		"  - name: TOKEN\n    value: '{{ secret:nova-push:APNS_TOKEN }}'\n"), 0o644)
	_, err := deploycheck.Run(context.Background(), deploycheck.Config{Root: repo, Version: version, Only: []string{"echo"}})
	if !errors.Is(err, deploycheck.ErrSecret) || !strings.Contains(err.Error(), "Secret nova-push key APNS_TOKEN") || !strings.Contains(err.Error(), "function echo") {
		t.Errorf("unknown secret: %v", err)
	}
	// An override of a key the ConfigMap lacks fails naming the key.
	cm := filepath.Join(repo, "eventing/config/nova-config.yaml")
	raw, _ := os.ReadFile(cm)
	os.WriteFile(cm, []byte(strings.Replace(string(raw), "  REDIS_URL: redis://nova-redis:6379/0\n", "", 1)), 0o644)
	_, err = deploycheck.Run(context.Background(), deploycheck.Config{Root: repo, Version: version, Only: []string{"nova-api"}})
	if err == nil || !strings.Contains(err.Error(), "ConfigMap nova-config has no key REDIS_URL") {
		t.Errorf("override of a missing key: %v", err)
	}
	if _, err := deploycheck.Run(context.Background(), deploycheck.Config{Root: repo, Version: version, Only: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `no function "nope"`) {
		t.Errorf("unknown function: %v", err)
	}
}

func exists(t *testing.T, database string) bool {
	t.Helper()
	admin := deploycheck.Config{}.Defaults().DatabaseURL
	conn, err := pgx.Connect(context.Background(), admin)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", admin, err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", database).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
