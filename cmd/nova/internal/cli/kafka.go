package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
)

// kafkaCmd is `nova kafka`: the broker `nova run` embeds, on its own, with
// the catalogue's topics. With -control it is a test harness's Kafka: it
// reads fault commands from standard input (see control) and stops when
// its input closes, so it never outlives the process that started it.
func kafkaCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("kafka", "[flags]", st)
	var (
		cfg        broker.Config
		controlled bool
		logLevel   slog.Level
	)
	fs.IntVar(&cfg.Port, "port", broker.DefaultPort, "port on 127.0.0.1 (0: a free port) [NOVA_KAFKA_PORT]")
	fs.StringVar(&cfg.DataDir, "data-dir", broker.DefaultDataDir, "data folder; empty keeps everything in memory [NOVA_DATA_DIR]")
	fs.BoolVar(&controlled, "control", false, "take fault commands on standard input and stop when it closes (for tests)")
	fs.TextVar(&logLevel, "log-level", slog.LevelWarn, "debug, info, warn or error [NOVA_LOG_LEVEL]")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return badUsage(st, "kafka", fmt.Errorf("unexpected arguments %q", pos))
	}
	cfg.InMemory = cfg.DataDir == ""
	cfg.Logger = slog.New(slog.NewTextHandler(st.Err, &slog.HandlerOptions{Level: logLevel}))
	b, err := broker.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(st.Out, "listening on %s\n", strings.Join(b.Addrs(), ","))
	if !controlled {
		<-ctx.Done()
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- control(b, st.In, st.Out) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-done:
		return err
	}
}

// control answers fault commands, one per line, each with "ok" (and a
// value) or "error: reason", until in ends:
//
//	create-topic NAME PARTITIONS
//	refuse-writes [TOPIC...]   refuse produce to these topics (none: stop refusing)
//	drop-produce on|off        drop every produce request's connection
//	dropped                    "ok N": produce requests dropped so far
func control(b *broker.Broker, in io.Reader, out io.Writer) error {
	f := b.Faults()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		var reply string
		switch cmd, args := fields[0], fields[1:]; {
		case cmd == "create-topic" && len(args) == 2:
			reply = "ok"
			n, err := strconv.ParseInt(args[1], 10, 32)
			if err == nil {
				err = b.CreateTopic(args[0], int32(n))
			}
			if err != nil {
				reply = "error: " + err.Error()
			}
		case cmd == "refuse-writes":
			f.RefuseWrites(args...)
			reply = "ok"
		case cmd == "drop-produce" && len(args) == 1 && (args[0] == "on" || args[0] == "off"):
			f.DropProduce(args[0] == "on")
			reply = "ok"
		case cmd == "dropped" && len(args) == 0:
			reply = fmt.Sprintf("ok %d", f.Dropped())
		default:
			reply = fmt.Sprintf("error: unknown command %q", sc.Text())
		}
		if _, err := fmt.Fprintln(out, reply); err != nil {
			return fmt.Errorf("control: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	return nil
}
