package deploycheck

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/system"
)

func funcYAML(t *testing.T, envs string) *funchost.FuncYAML {
	t.Helper()
	f, err := funchost.ParseFuncYAML([]byte("specVersion: 0.36.0\nname: fn\nruntime: go\nrun:\n  envs:\n" + envs))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEnvironment(t *testing.T) {
	cms := map[string]map[string]string{
		"nova-config": {"DATABASE_URL": "postgres://cluster/nova", "REDIS_URL": "redis://cluster:6379/0", "KAFKA_BROKERS": "cluster:9092", "MODE": "prod"},
	}
	local := Local{DatabaseURL: "postgres://127.0.0.1/x", RedisURL: "redis://127.0.0.1:6379/3", KafkaBrokers: []string{"127.0.0.1:1", "127.0.0.1:2"}}
	secrets := &secretValues{}
	host := map[string]string{"WHO": "ci", "PATH": "/bin"}
	f := funcYAML(t, "  - name: DB\n    value: '{{ configMap:nova-config:DATABASE_URL }}'\n"+
		"  - name: MODE\n    value: '{{ configMap:nova-config:MODE }}-{{ env:WHO }}'\n"+
		"  - name: KEY\n    value: '{{ secret:nova-jwt:NOVA_JWT_PRIVATE_KEY }}'\n"+
		"  - name: PLAIN\n    value: x\n")
	env, err := environment(f, cms, secrets, Overrides, local, host, "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(env, "\n")
	for _, want := range []string{"DB=postgres://127.0.0.1/x", "MODE=prod-ci", "PLAIN=x", "LISTEN_ADDRESS=127.0.0.1:9", "KEY=-----BEGIN PRIVATE KEY-----"} {
		if !strings.Contains(got, want) {
			t.Errorf("environment lacks %q:\n%s", want, got)
		}
	}
	if len(env) != 5 || strings.Contains(got, "PATH=") || strings.Contains(got, "REDIS_URL") {
		t.Errorf("environment holds more than run.envs:\n%s", got)
	}
	if cms["nova-config"]["DATABASE_URL"] != "postgres://cluster/nova" {
		t.Error("the manifests' ConfigMap was changed")
	}
	// One Secret, one value, whichever function asks.
	again, _ := environment(f, cms, secrets, Overrides, local, host, "127.0.0.1:9")
	if key := func(env []string) string {
		for _, kv := range env {
			if strings.HasPrefix(kv, "KEY=") {
				return kv
			}
		}
		return ""
	}; key(env) != key(again) {
		t.Error("the secret's value changed between functions")
	}

	// A whole ConfigMap gets the overrides too.
	local.APIURL = "http://127.0.0.1:5"
	iss, err := system.StartIssuer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close(context.Background())
	local.Issuer, local.IssuerURL = iss, iss.URL()
	whole, err := environment(funcYAML(t, "  - value: '{{ configMap:nova-config }}'\n"), cms, secrets, Overrides, local, host, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(whole, " "); !strings.Contains(got, "KAFKA_BROKERS=127.0.0.1:1,127.0.0.1:2") || !strings.Contains(got, "REDIS_URL=redis://127.0.0.1:6379/3") {
		t.Errorf("whole ConfigMap: %s", got)
	}

	for name, c := range map[string]struct {
		envs string
		want string
	}{
		"unknown secret":    {"  - name: A\n    value: '{{ secret:other:KEY }}'\n", "Secret other key KEY"},
		"whole secret":      {"  - value: '{{ secret:nova-jwt }}'\n", "the whole Secret nova-jwt"},
		"unset env":         {"  - name: A\n    value: '{{ env:NOPE }}'\n", "environment variable NOPE is not set"},
		"unknown ConfigMap": {"  - name: A\n    value: '{{ configMap:other:KEY }}'\n", "ConfigMap other"},
		"unknown key":       {"  - name: A\n    value: '{{ configMap:nova-config:NOPE }}'\n", "has no key NOPE"},
	} {
		_, err := environment(funcYAML(t, c.envs), cms, secrets, Overrides, local, host, "a")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "function fn") {
			t.Errorf("%s: %v; want an error naming the function and %q", name, err, c.want)
		}
	}
}

// An override whose local value does not exist yet (nova-api's address,
// before nova-api is ready) fails naming the key, only for functions that
// reference it.
func TestEnvironmentValueNotYet(t *testing.T) {
	cms := map[string]map[string]string{"nova-config": {"NOVA_JWKS_URL": "http://nova-api/v1/.well-known/jwks.json",
		"DATABASE_URL": "", "REDIS_URL": "", "KAFKA_BROKERS": "", "S3_ENDPOINT": "", "S3_USE_SSL": "", "NOVA_OIDC_DISCOVERY_URL": "", "NOVA_API_URL": "",
		"SMTP_ADDR": "", "SMTP_TLS": ""}}
	if err := checkOverrides(cms); err != nil {
		t.Fatal(err)
	}
	f := funcYAML(t, "  - name: NOVA_JWKS_URL\n    value: '{{ configMap:nova-config:NOVA_JWKS_URL }}'\n")
	_, err := environment(f, cms, &secretValues{}, Overrides, Local{}, nil, "a")
	if !errors.Is(err, ErrNotYet) || !strings.Contains(err.Error(), "NOVA_JWKS_URL") {
		t.Errorf("before nova-api: %v", err)
	}
	env, err := environment(f, cms, &secretValues{}, Overrides, Local{APIURL: "http://127.0.0.1:5"}, nil, "a")
	if err != nil || !strings.Contains(strings.Join(env, " "), "NOVA_JWKS_URL=http://127.0.0.1:5/v1/.well-known/jwks.json") {
		t.Errorf("after nova-api: %v %v", env, err)
	}
	if _, err := environment(funcYAML(t, "  - name: A\n    value: b\n"), cms, &secretValues{}, Overrides, Local{}, nil, "a"); err != nil {
		t.Errorf("a function not referencing it: %v", err)
	}
	delete(cms["nova-config"], "NOVA_JWKS_URL")
	if err := checkOverrides(cms); err == nil || !strings.Contains(err.Error(), "has no key NOVA_JWKS_URL") {
		t.Errorf("override of a key the ConfigMap lacks: %v", err)
	}
}

func TestLineTail(t *testing.T) {
	tail := &lineTail{max: 3}
	fmt.Fprint(tail, "one\ntwo\nthr")
	fmt.Fprint(tail, "ee\nfour\nfi")
	// Three whole lines, and the one being written.
	if got := tail.String(); got != "    two\n    three\n    four\n    fi" {
		t.Errorf("tail %q", got)
	}
	fmt.Fprint(tail, "ve\n")
	if got := tail.String(); got != "    three\n    four\n    five" {
		t.Errorf("tail %q", got)
	}
}
