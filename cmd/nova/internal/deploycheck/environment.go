package deploycheck

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/event/sender"
)

// References in run.envs values, as kn func writes them.
var (
	secretRef    = regexp.MustCompile(`\{\{\s*secret\s*:\s*([\w.-]+)\s*(?::\s*([\w.-]+)\s*)?\}\}`)
	configMapRef = regexp.MustCompile(`\{\{\s*configMap\s*:\s*([\w.-]+)\s*(?::\s*([\w.-]+)\s*)?\}\}`)
	envRef       = regexp.MustCompile(`\{\{\s*env\s*:\s*(\w+)\s*\}\}`)
)

// ErrSecret marks a reference to a Secret key the check has no value for.
var ErrSecret = errors.New("unknown secret")

// secretValues makes each known Secret key's test value once.
type secretValues struct {
	// kafka holds the Secrets Strimzi would make for eventing/'s
	// KafkaUsers (and the cluster CA's), made for the check's broker.
	kafka *system.KafkaLogins
	mu    sync.Mutex
	made  map[string]string
}

func (s *secretValues) get(name, key string) (string, error) {
	if s.kafka != nil {
		if v, ok := s.kafka.Secrets[name][key]; ok {
			return v, nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := name + ":" + key
	if v, ok := s.made[id]; ok {
		return v, nil
	}
	for _, sec := range Secrets {
		if sec.Name == name && sec.Key == key {
			v, err := sec.Make()
			if err != nil {
				return "", fmt.Errorf("test value of Secret %s key %s: %w", name, key, err)
			}
			if s.made == nil {
				s.made = map[string]string{}
			}
			s.made[id] = v
			return v, nil
		}
	}
	return "", fmt.Errorf("%w: Secret %s key %s has no test value here (add it to deploycheck.Secrets)", ErrSecret, name, key)
}

// environment is what Knative puts in the function's container: its
// run.envs and nothing else, the ConfigMap references resolved against the
// manifests with the local servers in place of the cluster's (overrides;
// none gives the manifests' own values), Secrets with test values,
// {{ env:NAME }} from the deployer's environment (host), and the
// LISTEN_ADDRESS the builder sets in the image.
func environment(fy *funchost.FuncYAML, configMaps map[string]map[string]string, secrets *secretValues, overrides []Override, local Local, host map[string]string, listen string) ([]string, error) {
	fail := func(err error) ([]string, error) { return nil, fmt.Errorf("function %s: %w", fy.Name, err) }
	values := map[string]string{}
	refMaps := map[string]map[string]bool{} // ConfigMap -> keys referenced (nil: all)
	for _, e := range fy.Run.Envs {
		for _, m := range secretRef.FindAllStringSubmatch(e.Value, -1) {
			if m[2] == "" {
				return fail(fmt.Errorf("run.envs %q: %w: the whole Secret %s; name its keys", e.Name, ErrSecret, m[1]))
			}
			v, err := secrets.get(m[1], m[2])
			if err != nil {
				return fail(fmt.Errorf("run.envs %s: %w", e.Name, err))
			}
			values[m[2]] = v
		}
		for _, m := range envRef.FindAllStringSubmatch(e.Value, -1) {
			v, ok := host[m[1]]
			if !ok {
				return fail(fmt.Errorf("run.envs %s: required local environment variable %s is not set", e.Name, m[1]))
			}
			values[m[1]] = v
		}
		for _, m := range configMapRef.FindAllStringSubmatch(e.Value, -1) {
			keys, seen := refMaps[m[1]]
			switch {
			case m[2] == "":
				refMaps[m[1]] = nil
			case !seen:
				refMaps[m[1]] = map[string]bool{m[2]: true}
			case keys != nil:
				keys[m[2]] = true
			}
		}
	}
	cms := make(map[string]map[string]string, len(configMaps))
	for name, data := range configMaps {
		cms[name] = maps.Clone(data)
	}
	for _, o := range overrides {
		keys, referenced := refMaps[o.ConfigMap]
		if !referenced || (keys != nil && !keys[o.Key]) {
			continue
		}
		v, err := o.Value(local)
		if err != nil {
			return fail(fmt.Errorf("ConfigMap %s key %s: %w", o.ConfigMap, o.Key, err))
		}
		cms[o.ConfigMap][o.Key] = v
	}
	env, err := funchost.Resolver{ConfigMaps: cms, Env: values}.Resolve(fy.Run.Envs)
	if err != nil {
		return fail(err)
	}
	env["LISTEN_ADDRESS"] = listen
	// Where the kubelet mounts the pod's service account: the function's
	// namespace (and, in a cluster, the token and CA it reaches the API
	// server's OIDC discovery with, which a machine without a cluster has
	// not: functions pointed at it stay not-ready, saying so).
	if local.ServiceAccountDir != "" {
		env[sender.EnvServiceAccountDir] = local.ServiceAccountDir
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// mountServiceAccount writes what the kubelet mounts for a pod's service
// account that a function reads here (its namespace, the one kubectl
// apply puts the manifests in) under work, and returns the folder.
func mountServiceAccount(work string) (string, error) {
	dir := filepath.Join(work, "serviceaccount")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "namespace"), []byte(source.DefaultNamespace), 0o644)
}
