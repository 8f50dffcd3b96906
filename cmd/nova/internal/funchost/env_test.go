package funchost_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
)

func TestFuncYAMLAndEnvResolution(t *testing.T) {
	f, err := funchost.LoadFuncYAML("testdata/fn")
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "sample" || f.InvokeKind() != funchost.InvokeCloudEvent || f.SpecVersion != "0.36.0" || f.Created.IsZero() {
		t.Errorf("parsed %+v", f)
	}
	if s := f.Deploy.Options.Scale; s == nil || s.Min == nil || *s.Min != 0 || *s.Max != 4 {
		t.Errorf("scale %+v", s)
	}
	cms, err := funchost.LoadConfigMaps("testdata/eventing")
	if err != nil {
		t.Fatal(err)
	}
	if len(cms) != 2 {
		t.Fatalf("ConfigMaps %v, want nova-config and extra", cms)
	}

	r := funchost.Resolver{ConfigMaps: cms, Env: map[string]string{
		"SAMPLE_WHO":    "nova",
		"KAFKA_BROKERS": "127.0.0.1:9092", // the environment overrides the ConfigMap
		"EXTRA_TWO":     "2",
		"HOME":          "/root",
	}}
	cfg, err := r.Config(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"KAFKA_BROKERS":  "127.0.0.1:9092",
		"KAFKA_GROUP_ID": "sample-group",
		"GREETING":       "hello nova",
		"EXTRA_ONE":      "1",
		"EXTRA_TWO":      "2",
		"HOME":           "/root", // the rest of the environment, as func-go passes it
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("%s = %q, want %q", k, cfg[k], v)
		}
	}

	delete(r.Env, "SAMPLE_WHO")
	if _, err := r.Config(f); !errors.Is(err, funchost.ErrUnresolved) {
		t.Errorf("missing env: got %v, want ErrUnresolved", err)
	}
	r.Env["SAMPLE_WHO"] = "x"
	delete(r.ConfigMaps, "nova-config")
	delete(r.Env, "KAFKA_BROKERS")
	if _, err := r.Config(f); !errors.Is(err, funchost.ErrUnresolved) {
		t.Errorf("missing ConfigMap: got %v, want ErrUnresolved", err)
	}
}

func TestBuildEnv(t *testing.T) {
	f, err := funchost.ParseFuncYAML([]byte(`specVersion: 0.36.0
name: a
runtime: go
build:
  buildEnvs:
  - name: GOFLAGS
    value: -mod=mod
  - name: GOWORK
    value: "off"
  - name: GOPRIVATE
    value: '{{ env:MY_PRIVATE }}'
`))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MY_PRIVATE": "example.com/*"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	got, err := f.BuildEnv(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if want := "GOFLAGS=-mod=mod GOWORK=off GOPRIVATE=example.com/*"; strings.Join(got, " ") != want {
		t.Errorf("BuildEnv = %q, want %q", got, want)
	}
	delete(env, "MY_PRIVATE")
	if _, err := f.BuildEnv(lookup); !errors.Is(err, funchost.ErrUnresolved) || !strings.Contains(err.Error(), "MY_PRIVATE") {
		t.Errorf("unset variable: got %v, want ErrUnresolved naming MY_PRIVATE", err)
	}
}

func TestParseFuncYAMLRefusesBadFiles(t *testing.T) {
	for name, src := range map[string]string{
		"no name":                 "specVersion: 0.36.0\nruntime: go\n",
		"not go":                  "specVersion: 0.36.0\nname: a\nruntime: node\n",
		"bad invoke":              "specVersion: 0.36.0\nname: a\nruntime: go\ninvoke: grpc\n",
		"nameless env":            "specVersion: 0.36.0\nname: a\nruntime: go\nrun:\n  envs:\n  - value: x\n",
		"nameless build env":      "specVersion: 0.36.0\nname: a\nruntime: go\nbuild:\n  buildEnvs:\n  - value: x\n",
		"build env from a Secret": "specVersion: 0.36.0\nname: a\nruntime: go\nbuild:\n  buildEnvs:\n  - name: A\n    value: '{{ secret:s:k }}'\n",
		"scale min>max":           "specVersion: 0.36.0\nname: a\nruntime: go\ndeploy:\n  options:\n    scale:\n      min: 3\n      max: 1\n",
		"label key":               "specVersion: 0.36.0\nname: a\nruntime: go\ndeploy:\n  labels:\n  - key: 'a b'\n    value: x\n",
		"label value":             "specVersion: 0.36.0\nname: a\nruntime: go\ndeploy:\n  labels:\n  - key: k\n    value: 'not a label value'\n",
		"label from a Secret":     "specVersion: 0.36.0\nname: a\nruntime: go\ndeploy:\n  labels:\n  - key: k\n    value: '{{ secret:s:k }}'\n",
		"label twice":             "specVersion: 0.36.0\nname: a\nruntime: go\ndeploy:\n  labels:\n  - key: k\n    value: a\n  - key: k\n    value: b\n",
	} {
		if _, err := funchost.ParseFuncYAML([]byte(src)); !errors.Is(err, funchost.ErrFuncYAML) {
			t.Errorf("%s: got %v, want ErrFuncYAML", name, err)
		}
	}
}

func TestFuncYAMLLabels(t *testing.T) {
	f, err := funchost.ParseFuncYAML([]byte("specVersion: 0.36.0\nname: a\nruntime: go\ndeploy:\n  labels:\n" +
		"  - key: networking.knative.dev/visibility\n    value: cluster-local\n  - key: owner\n    value: '{{ env:USER }}'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := f.Label(funchost.VisibilityLabel); !ok || v != funchost.VisibilityClusterLocal {
		t.Errorf("visibility %q %v", v, ok)
	}
	if _, ok := f.Label("absent"); ok {
		t.Error("an absent label was found")
	}
}

// The ConfigMaps of a kustomize build come as one stream.
func TestParseConfigMaps(t *testing.T) {
	stream := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {K: v}\n---\n" +
		"apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
	cms, err := funchost.ParseConfigMaps("kustomize build eventing", []byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(cms) != 2 || cms["a"]["K"] != "v" || cms["b"] == nil {
		t.Fatalf("ConfigMaps %v", cms)
	}
	dup := stream + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: other}\n"
	if _, err := funchost.ParseConfigMaps("kustomize build eventing", []byte(dup)); err == nil ||
		!strings.Contains(err.Error(), "ConfigMap a defined in kustomize build eventing (document 1) and in kustomize build eventing (document 4)") {
		t.Fatalf("duplicate: %v", err)
	}
}
