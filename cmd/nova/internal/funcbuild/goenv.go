package funcbuild

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// GoEnv reads go env settings as the go command sees them with env (the
// process environment, then the user's go env file): GOPROXY, GOMODCACHE,
// GOCACHE and the like.
func GoEnv(ctx context.Context, env []string, names ...string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"env", "-json"}, names...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("funcbuild: go env: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	out := map[string]string{}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("funcbuild: go env: %w", err)
	}
	return out, nil
}

// runGo runs the go command in dir with env. A failure quotes the go
// command's output, which says what is wrong better than anything here.
func runGo(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, indent(tail(string(out), 60)))
	}
	return nil
}

// setEnv returns env with each NAME=VALUE of kv replacing any earlier
// setting of NAME.
func setEnv(env []string, kv ...string) []string {
	out := make([]string, 0, len(env)+len(kv))
	names := map[string]bool{}
	for _, s := range kv {
		name, _, _ := strings.Cut(s, "=")
		names[name] = true
	}
	for _, s := range env {
		name, _, _ := strings.Cut(s, "=")
		if !names[name] {
			out = append(out, s)
		}
	}
	return append(out, kv...)
}

// environ is the process environment, or env when it is set.
func environ(env []string) []string {
	if env != nil {
		return env
	}
	return os.Environ()
}

// tail keeps the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// proxyList puts the local proxy dir, when set, in front of the user's
// GOPROXY list: only what it lacks goes further.
func proxyList(dir, user string) string {
	if dir == "" {
		return user
	}
	local := "file://" + dir
	if user == "" || user == "off" {
		return local
	}
	return local + "," + user
}
