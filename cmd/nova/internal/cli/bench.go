package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nova-social/nova/cmd/nova/internal/load"
	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
)

func benchCmd(ctx context.Context, args []string, st Streams) error {
	if len(args) > 0 && args[0] == "mixed" {
		return benchMixedCmd(ctx, args[1:], st)
	}
	return benchProducerCmd(ctx, args, st)
}

// benchProducerCmd is kafka-producer-perf-test for Nova's producer.
func benchProducerCmd(ctx context.Context, args []string, st Streams) error {
	fs := newTool("bench", "[flags]   (nova bench mixed -h: the mixed workload on a running Nova)", st)
	var (
		cfg        load.ProducerConfig
		brokers    string
		embedded   bool
		baseline   bool
		keepTopic  bool
		partitions int
	)
	fs.IntVar(&cfg.NumRecords, "num-records", load.DefaultNumRecords, "records to send (per producer)")
	fs.IntVar(&cfg.RecordSize, "record-size", load.DefaultRecordSize, "bytes of each record's value")
	fs.Float64Var(&cfg.Throughput, "throughput", -1, "records/s cap; -1 sends as fast as the producer takes them")
	fs.StringVar(&cfg.Topic, "topic", load.DefaultBenchTopic, "topic to write; created when missing (no function reads "+load.DefaultBenchTopic+"; a catalogue topic feeds its consumers)")
	fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "Kafka to produce to"+runningNova+" [KAFKA_BROKERS]")
	benchSec := kafkaSecurity(fs.FlagSet, fs.getenv)
	fs.BoolVar(&embedded, "embedded", false, "start an in-memory Kafka in this process instead (self-contained; the broker shares the CPU)")
	fs.usedIf("kafka-brokers", func() bool { return !embedded })
	fs.BoolVar(&baseline, "baseline", true, "also run a raw Sarama producer of plain byte records and compare")
	fs.IntVar(&cfg.InFlight, "in-flight", load.DefaultInFlight, "records sent and not yet acknowledged, at most (both producers)")
	fs.IntVar(&cfg.Batch, "batch", 1, "records per Send of Nova's producer (1: each record's own latency; the outbox relay sends up to 500)")
	fs.DurationVar(&cfg.ReportInterval, "reporting-interval", load.DefaultReportInterval, "period of the progress lines")
	fs.BoolVar(&keepTopic, "keep-topic", false, "keep a topic this run created (by default it is deleted at the end)")
	fs.IntVar(&partitions, "partitions", load.DefaultBenchPartition, "partitions of a topic this run creates")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return ErrUsage
	}
	if cfg.NumRecords < 1 || cfg.RecordSize < 1 {
		// Zero would mean "the default" to the configuration; on the
		// command line it is a mistake.
		return badUsage(st, "bench", errors.New("--num-records and --record-size must be at least 1"))
	}
	cfg.Progress = st.Out
	cfg = cfg.Defaults()

	if embedded {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return fmt.Errorf("start the embedded Kafka: %w", err)
		}
		defer c.Close()
		cfg.Brokers = c.ListenAddrs()
		fmt.Fprintf(st.Out, "embedded Kafka (in memory, this process) at %s\n", strings.Join(cfg.Brokers, ","))
	} else {
		cfg.Brokers, cfg.Security = kafka.ParseBrokers(brokers), benchSec()
	}
	if err := cfg.Validate(); err != nil {
		return badUsage(st, "bench", err)
	}
	if err := checkKafka(ctx, cfg.Brokers, cfg.Security); err != nil {
		return fmt.Errorf("%w\nStart Nova (make run) or another Kafka, point --kafka-brokers / KAFKA_BROKERS at it, or pass --embedded for a self-contained run", err)
	}
	created, err := load.EnsureTopic(ctx, cfg.Brokers, cfg.Security, cfg.Topic, int32(partitions))
	if err != nil {
		return err
	}
	if created && !keepTopic {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := load.DeleteTopic(dctx, cfg.Brokers, cfg.Security, cfg.Topic); err != nil {
				fmt.Fprintf(st.Err, "nova bench: %v\n", err)
			}
		}()
	}
	for _, tp := range catalog.Default().Topics() {
		if tp.Name == cfg.Topic {
			fmt.Fprintf(st.Out, "note: %s is a catalogue topic; its consumers will receive these synthetic events\n", cfg.Topic)
		}
	}
	throttle := "unthrottled"
	if cfg.Throughput > 0 {
		throttle = fmt.Sprintf("at most %.0f records/s", cfg.Throughput)
	}
	fmt.Fprintf(st.Out, "topic %s on %s; %d records of %d bytes, %s, %d in flight, Nova's Sends of %d\n",
		cfg.Topic, strings.Join(cfg.Brokers, ","), cfg.NumRecords, cfg.RecordSize, throttle, cfg.InFlight, cfg.Batch)

	fmt.Fprintln(st.Out, "\n== nova: binary-mode CloudEvents (com.nova.content.post.created) through shared/event/kafka's producer")
	nova, err := load.RunNova(ctx, cfg)
	fmt.Fprintln(st.Out, nova)
	if err != nil {
		return err
	}
	if !baseline {
		return failedRecords(nova)
	}
	fmt.Fprintln(st.Out, "\n== raw (baseline): plain byte records, same keys and value size, Sarama AsyncProducer, same configuration")
	raw, err := load.RunRaw(ctx, cfg)
	fmt.Fprintln(st.Out, raw)
	if err != nil {
		return err
	}
	load.WriteComparison(st.Out, nova, raw)
	return errors.Join(failedRecords(nova), failedRecords(raw))
}

// badUsage prints why the flags cannot work; Main exits 2 on ErrUsage
// without printing the error itself.
func badUsage(st Streams, cmd string, err error) error {
	fmt.Fprintf(st.Err, "nova %s: %v\n", cmd, err)
	return fmt.Errorf("%w: %w", ErrUsage, err)
}

func failedRecords(r load.ProducerResult) error {
	if r.Failed > 0 {
		return fmt.Errorf("%s: %d records failed: %w", r.Name, r.Failed, r.FirstErr)
	}
	return nil
}

// benchMixedCmd runs the mixed workload against a running Nova.
func benchMixedCmd(ctx context.Context, args []string, st Streams) error {
	fs := newTool("bench mixed", "[flags]", st)
	var (
		cfg         load.MixedConfig
		mix         string
		brokers     string
		metricsURL  string
		databaseURL string
		baseline    bool
		checkFeeds  int
	)
	fs.StringVar(&cfg.API, "api", "http://127.0.0.1:8080", "nova-api's URL"+runningNova+" [NOVA_API]")
	fs.DurationVar(&cfg.Duration, "duration", load.DefaultMixedDuration, "how long the load runs")
	fs.IntVar(&cfg.Users, "users", load.DefaultUsers, "users registered for the run")
	fs.IntVar(&cfg.Follows, "follows", load.DefaultFollows, "users each one follows")
	fs.Float64Var(&cfg.Rate, "rate", load.DefaultRate, "target operations per second (open loop)")
	fs.IntVar(&cfg.Concurrency, "concurrency", load.DefaultConcurrency, "requests in flight at most; an operation finding none free is skipped and counted")
	fs.StringVar(&mix, "mix", load.DefaultMix().String(), "weights of the operations")
	fs.BoolVar(&baseline, "baseline", true, "first measure GET "+load.BaselinePath+" at the same rate and concurrency")
	fs.DurationVar(&cfg.Baseline, "baseline-duration", load.DefaultBaseline, "how long the baseline runs")
	fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "Kafka whose consumer lag is followed; empty: none"+runningNova+" [KAFKA_BROKERS]")
	sec := kafkaSecurity(fs.FlagSet, fs.getenv)
	fs.StringVar(&metricsURL, "metrics-url", "", "read the lag from the dispatcher's kafka_consumer_lag here instead (e.g. http://127.0.0.1:9464/metrics; refreshed every 5s)")
	fs.usedIf("kafka-brokers", func() bool { return metricsURL == "" })
	fs.StringVar(&databaseURL, "database-url", "", "nova-api's PostgreSQL: also wait for its outbox to empty; empty: no wait"+runningNova+" [DATABASE_URL]")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", load.DefaultDrainTimeout, "how long to wait for the backlogs to drain after the load")
	fs.IntVar(&checkFeeds, "check-feeds", 20, "afterwards look for the last N posts in their followers' feeds (0: skip)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the choice of operations (0: random)")
	fs.StringVar(&cfg.MailDir, "mail-dir", "", "where nova run's local mail relay keeps the mail, read for the users' verification codes (default: the running Nova's, else <root>/.nova/mail, the root found from the working directory) [NOVA_MAIL_DIR]")
	fs.DurationVar(&cfg.MailTimeout, "mail-timeout", load.DefaultMailTimeout, "how long to wait for each user's verification mail")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return ErrUsage
	}
	if cfg.Mix, err = load.ParseMix(mix); err != nil {
		return badUsage(st, "bench mixed", err)
	}
	if !baseline {
		cfg.Baseline = 0
	}
	if cfg.MailDir == "" {
		// Where nova run, started in this repository, keeps it.
		root, err := findRoot("")
		if err != nil {
			return badUsage(st, "bench mixed", fmt.Errorf("no --mail-dir, and %w", err))
		}
		cfg.MailDir = system.MailDir(root)
	}
	cfg.Progress = st.Out
	if err := cfg.Defaults().Validate(); err != nil {
		return badUsage(st, "bench mixed", err)
	}

	switch {
	case metricsURL != "":
		cfg.Backlogs = append(cfg.Backlogs, &load.MetricsLag{URL: metricsURL})
	case brokers != "":
		bs := kafka.ParseBrokers(brokers)
		if err := checkKafka(ctx, bs, sec()); err != nil {
			return fmt.Errorf("%w\nThe lag is read from the Kafka nova run uses: pass its --kafka-brokers (or --kafka-brokers '' to go without lag figures)", err)
		}
		cfg.Backlogs = append(cfg.Backlogs, load.NewKafkaLag(bs, sec()))
	}
	if databaseURL != "" {
		// Connect once first: the backlog's own pool would only fail later,
		// and never says that a mistyped database does not exist.
		pool, err := openDatabase(ctx, databaseURL)
		if err != nil {
			return err
		}
		pool.Close()
		o, err := load.NewOutboxBacklog(ctx, databaseURL)
		if err != nil {
			return err
		}
		cfg.Backlogs = append(cfg.Backlogs, o)
	}
	defer func() {
		for _, b := range cfg.Backlogs {
			b.Close()
		}
	}()

	m, err := load.NewMixed(cfg)
	if err != nil {
		return badUsage(st, "bench mixed", err)
	}
	fmt.Fprintf(st.Out, "mixed workload against %s (seed %d)\n", cfg.API, m.Config().Seed)
	took, err := m.Setup(ctx)
	if err != nil {
		return fmt.Errorf("setup (is Nova running at %s, its mail kept in %s? start it with make run, without SMTP_ADDR): %w", cfg.API, cfg.MailDir, err)
	}
	res, err := m.Run(ctx)
	res.SetupTook = took
	if err != nil {
		load.WriteMixed(st.Out, res)
		return err
	}
	if checkFeeds > 0 {
		res.FeedsChecked, res.FeedsMissing, err = m.CheckFeeds(ctx, checkFeeds, 10*time.Second)
		if err != nil {
			fmt.Fprintf(st.Err, "nova bench mixed: check feeds: %v\n", err)
		}
	}
	load.WriteMixed(st.Out, res)
	var errs []error
	if n := res.Errors(); n > 0 {
		errs = append(errs, fmt.Errorf("%d requests failed", n))
	}
	if len(cfg.Backlogs) > 0 && !res.Drained {
		errs = append(errs, errors.New("the backlogs did not drain"))
	}
	if res.FeedsMissing > 0 {
		errs = append(errs, fmt.Errorf("%d posts missing from followers' feeds", res.FeedsMissing))
	}
	return errors.Join(errs...)
}
