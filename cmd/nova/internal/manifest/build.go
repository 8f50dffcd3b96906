package manifest

import (
	"fmt"
	"path/filepath"
	"slices"

	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// originAnnotation is where kustomize records the file an object came from
// when a kustomization asks for buildMetadata: [originAnnotations].
const originAnnotation = "config.kubernetes.io/origin"

// built is one object of a kustomize build, as kubectl would send it.
type built struct {
	obj  map[string]any
	file string // relative to the kustomization folder; "" when unknown
}

// build runs kustomize on dir in-process, with the options kubectl apply -k
// uses, and returns its objects decoded as an API server decodes JSON
// (integers as int64).
func build(dir string) ([]built, error) {
	disk := filesys.MakeFsOnDisk()
	root, err := filesys.ConfirmDir(disk, dir)
	if err != nil {
		return nil, err
	}
	fsys := &originFS{FileSystem: disk, root: root.String()}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []built
	for _, r := range resMap.Resources() {
		var b built
		origin, err := r.GetOrigin()
		if err != nil {
			return nil, fmt.Errorf("%s: origin: %w", r.CurId(), err)
		}
		if origin != nil {
			b.file = origin.Path
			if b.file == "" {
				b.file = origin.ConfiguredIn
			}
		}
		raw, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		if err := json.Unmarshal(raw, &b.obj); err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		if fsys.injected {
			dropOrigin(b.obj)
		}
		out = append(out, b)
	}
	return out, nil
}

// dropOrigin removes the origin annotation the check asked kustomize for,
// so the object is the one kubectl would send.
func dropOrigin(obj map[string]any) {
	meta, _ := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		return
	}
	delete(ann, originAnnotation)
	if len(ann) == 0 {
		delete(meta, "annotations")
	}
}

// originFS is the disk, except that the top kustomization file also asks
// for origin annotations, which is how kustomize tells which file each
// object came from.
type originFS struct {
	filesys.FileSystem
	root     string
	injected bool // the kustomization did not ask for them itself
}

func (f *originFS) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil || filepath.Dir(path) != f.root || !slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(path)) {
		return data, err
	}
	node, err := kyaml.Parse(string(data))
	if err != nil {
		return data, nil // kustomize reports it
	}
	var have []string
	if bm := node.Field("buildMetadata"); bm != nil {
		if err := bm.Value.Document().Decode(&have); err != nil {
			return data, nil
		}
	}
	if slices.Contains(have, types.OriginAnnotations) {
		return data, nil
	}
	f.injected = true
	list := kyaml.NewListRNode(append(have, types.OriginAnnotations)...)
	if err := node.PipeE(kyaml.SetField("buildMetadata", list)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := node.String()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return []byte(s), nil
}
