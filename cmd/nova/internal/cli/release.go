package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"

	"github.com/nova-social/nova/cmd/nova/internal/funcbuild"
	"github.com/nova-social/nova/cmd/nova/internal/release"
	"github.com/nova-social/nova/cmd/nova/internal/system"
)

// rootFlag adds --root, the repository root, found from the working
// directory when not given.
func rootFlag(fs *flag.FlagSet, root *string) {
	fs.StringVar(root, "root", "", "repository root (default: found from the working directory) [NOVA_ROOT]")
}

func findRoot(root string) (string, error) {
	if root != "" {
		return root, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return system.FindRoot(wd)
}

func releaseCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("release", "--version vX.Y.Z [--root DIR]", st)
	var cfg release.Config
	rootFlag(fs, &cfg.Root)
	fs.StringVar(&cfg.Version, "version", "", "the release, a semver tag such as v0.3.0 (required)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if cfg.Version == "" {
		fs.Usage()
		return badUsage(st, "release", errors.New("--version is required"))
	}
	var err error
	if cfg.Root, err = findRoot(cfg.Root); err != nil {
		return err
	}
	cfg.Log = st.Err
	res, err := release.Release(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(st.Out, "Released %s %s: tag %s on %.12s (the functions pinned, %s), HEAD %.12s (the functions on the local root module).\n",
		release.RootModule, res.Module.Version, res.Module.Version, res.Tagged, res.Module.Sum, res.After)
	fmt.Fprintf(st.Out, "Nothing is pushed. To publish it:\n\n  %s\n", res.Push())
	return nil
}

func pinCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("pin", "--version vX.Y.Z [--root DIR]", st)
	var root, version string
	rootFlag(fs, &root)
	fs.StringVar(&version, "version", "", "the root module's release to pin the functions to (required)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if version == "" {
		fs.Usage()
		return badUsage(st, "pin", errors.New("--version is required"))
	}
	root, tree, err := moduleTree(root)
	if err != nil {
		return err
	}
	cfg := release.PinConfig{Tree: tree, Module: funcbuild.Module{Path: release.RootModule, Version: version}, Log: st.Err}
	// A local tag is served from the repository, with the hash the Go
	// module proxy will have once it is pushed; otherwise GOPROXY must
	// have the release.
	if exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--quiet", "--verify", "refs/tags/"+version).Run() == nil {
		proxy, err := os.MkdirTemp("", "nova-pin-proxy-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(proxy)
		if cfg.Module, err = funcbuild.Proxy(ctx, funcbuild.ProxyConfig{Dir: proxy, Repo: root, Revision: "refs/tags/" + version, Path: release.RootModule, Version: version}); err != nil {
			return err
		}
		cfg.ProxyDir = proxy
		fmt.Fprintf(st.Err, "tag %s found here: served from the repository (%s)\n", version, cfg.Module.Sum)
	} else {
		fmt.Fprintf(st.Err, "no tag %s here: the functions fetch it through GOPROXY\n", version)
	}
	if err := release.PinAll(ctx, cfg); err != nil {
		return fmt.Errorf("%w\n(push the tag, or set GOPROXY/GOPRIVATE; no go.mod or go.sum was changed)", err)
	}
	fmt.Fprintf(st.Out, "Functions pinned to %s %s.\n", release.RootModule, version)
	return nil
}

func unpinCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("unpin", "[--root DIR]", st)
	var root string
	rootFlag(fs, &root)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	root, tree, err := moduleTree(root)
	if err != nil {
		return err
	}
	if err := release.UnpinAll(ctx, tree, nil, st.Err); err != nil {
		return err
	}
	fmt.Fprintf(st.Out, "Functions use the local root module (%s => %s).\n", release.RootModule, release.LocalRoot)
	return nil
}

// moduleTree finds the repository root (from root, or the working
// directory) and the modules in it.
func moduleTree(root string) (string, release.Tree, error) {
	root, err := findRoot(root)
	if err != nil {
		return "", release.Tree{}, err
	}
	tree, err := release.Modules(root)
	return root, tree, err
}
