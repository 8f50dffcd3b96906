package validation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Strimzi publishes its CRDs nowhere a registry serves them; the npm package
// @kubernetes-models/strimzi-kafka-operator carries validators compiled from
// the Strimzi 1.0.0 CRDs. strimzi/validate.mjs runs them (see
// strimzi/README.md), one node process for all the Strimzi objects of a build.

// StrimziScript is the validator script inside Config.StrimziDir.
const StrimziScript = "validate.mjs"

// strimziPackage is the npm package the script imports, in node_modules.
const strimziPackage = "@kubernetes-models/strimzi-kafka-operator"

// strimziKinds are what the validators cover: Strimzi 1.0 serves KafkaTopic
// and KafkaUser at kafka.strimzi.io/v1 only.
var strimziKinds = []struct{ group, version, kind string }{
	{"kafka.strimzi.io", "v1", "KafkaTopic"},
	{"kafka.strimzi.io", "v1", "KafkaUser"},
}

// runStrimzi validates objs in one node process and returns their problems,
// index for index. Metadata is left out: checkMeta reports it for every kind.
func (c *Checker) runStrimzi(ctx context.Context, objs []map[string]any) ([][]fieldProblem, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	in, err := json.Marshal(objs)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, c.cfg.Node, filepath.Join(c.cfg.StrimziDir, StrimziScript))
	cmd.Dir = c.cfg.StrimziDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("strimzi validator (%s %s): %w: %s", c.cfg.Node, StrimziScript, err, strings.TrimSpace(stderr.String()))
	}
	var results []struct {
		Problems []struct{ Field, Message string }
	}
	if err := json.Unmarshal(out, &results); err != nil {
		return nil, fmt.Errorf("strimzi validator: %w", err)
	}
	if len(results) != len(objs) {
		return nil, fmt.Errorf("strimzi validator: %d results for %d objects", len(results), len(objs))
	}
	probs := make([][]fieldProblem, len(objs))
	for i, r := range results {
		for _, p := range r.Problems {
			if p.Field == "metadata" || strings.HasPrefix(p.Field, "metadata.") {
				continue
			}
			probs[i] = append(probs[i], fieldProblem{field: p.Field, message: p.Message})
		}
	}
	return probs, nil
}
