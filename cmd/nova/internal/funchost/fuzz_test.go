package funchost_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
)

// FuzzParseFuncYAML: any func.yaml is either refused with ErrFuncYAML or
// accepted as one Nova can host; parsing never panics and allocates within
// a multiple of the input (YAML aliases cannot expand it).
func FuzzParseFuncYAML(f *testing.F) {
	// Every function's real func.yaml, the root nova-api's and the fixture.
	paths, _ := filepath.Glob("../../../../functions/*/func.yaml")
	paths = append(paths, "../../../../func.yaml", "testdata/fn/func.yaml")
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("specVersion: 0.36.0\nname: x\nruntime: go\ninvoke: cloudevent\nrun:\n  envs:\n  - value: '{{ configMap:nova-config }}'\n  - name: A\n    value: b\n"))
	f.Add([]byte("specVersion: 0.36.0\nname: x\nruntime: go\ndeploy:\n  options:\n    scale: {min: 3, max: 1, target: 1e400}\n"))
	f.Add([]byte("specVersion: &v 0.36.0\nname: *v\nruntime: go\ncreated: 2026-13-40T99:00:00Z\n"))
	f.Add([]byte("a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nrun: {envs: *e}\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fy, err := funchost.ParseFuncYAML(raw)
		runtime.ReadMemStats(&after)
		if n, limit := after.TotalAlloc-before.TotalAlloc, 32<<20+256*uint64(len(raw)); n > limit {
			t.Fatalf("parsing %d bytes allocated %d bytes", len(raw), n)
		}
		if err != nil {
			if !errors.Is(err, funchost.ErrFuncYAML) {
				t.Fatalf("error %v does not match ErrFuncYAML", err)
			}
			return
		}
		if err := fy.Validate(); err != nil {
			t.Fatalf("accepted a func.yaml that does not validate: %v", err)
		}
		if fy.Name == "" || fy.SpecVersion == "" || fy.Runtime != "go" {
			t.Fatalf("accepted %+v", fy)
		}
		if k := fy.InvokeKind(); k != funchost.InvokeHTTP && k != funchost.InvokeCloudEvent {
			t.Fatalf("invoke kind %q", k)
		}
	})
}
