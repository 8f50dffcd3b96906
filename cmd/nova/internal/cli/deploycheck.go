package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/deploycheck"
)

func deployCheckCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("deploy-check", "[--only name,...] [--keep] [--jobs N] [--root DIR]", st)
	var (
		cfg      deploycheck.Config
		only     string
		logLevel slog.Level
	)
	rootFlag(fs, &cfg.Root)
	fs.StringVar(&cfg.Version, "version", "", "the root module release the functions are built against, made from HEAD (default: HEAD's pseudo-version)")
	fs.StringVar(&only, "only", "", "check only these functions (func.yaml names, comma-separated)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the work folder: build contexts, scaffolds, binaries and each function's output")
	fs.IntVar(&cfg.Jobs, "jobs", 0, "builds at once (default 2, or 1 on one core)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL server where a fresh database is made and dropped (default $NOVA_TEST_DATABASE_URL or "+deploycheck.DefaultDatabaseURL+")")
	fs.StringVar(&cfg.RedisURL, "redis-url", "", "Redis the functions get (default $NOVA_TEST_REDIS_URL or "+deploycheck.DefaultRedisURL+")")
	fs.DurationVar(&cfg.ReadyTimeout, "ready-timeout", deploycheck.DefaultReadyTimeout, "how long a function may take to be live and ready")
	fs.DurationVar(&cfg.StopTimeout, "stop-timeout", deploycheck.DefaultStopTimeout, "how long a function may take to exit after SIGTERM")
	fs.TextVar(&logLevel, "log-level", slog.LevelWarn, "debug, info, warn or error [NOVA_LOG_LEVEL]")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			cfg.Only = append(cfg.Only, n)
		}
	}
	var err error
	if cfg.Root, err = findRoot(cfg.Root); err != nil {
		return err
	}
	cfg.Out = st.Out
	cfg.Logger = newLogger(st.Err, logLevel)
	rep, err := deploycheck.Run(ctx, cfg)
	if err != nil {
		return err
	}
	ran := 0
	for _, fl := range rep.Flows {
		if fl.Skipped == "" {
			ran++
		}
	}
	fmt.Fprintf(st.Out, "deploy-check: %d functions built as kn func builds them, each waiting while its servers were unreachable, then ready and stopped cleanly; %d of %d end-to-end flows run and passed; in %s\n",
		len(rep.Functions), ran, len(rep.Flows), rep.Took.Round(100*time.Millisecond))
	return nil
}
