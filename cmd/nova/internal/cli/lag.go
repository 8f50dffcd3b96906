package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/shared/event/kafka"
)

// WriteLag prints rows as a table with a total per group.
func WriteLag(w io.Writer, rows []broker.GroupLag) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no consumer groups")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "GROUP\tSTATE\tTOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\t")
	totals := map[string]int64{}
	for _, r := range rows {
		if r.Err != nil && r.Topic == "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\terror: %v\t\n", r.Group, r.State, r.Err)
			continue
		}
		committed, lag := fmt.Sprint(r.Committed), fmt.Sprint(r.Lag)
		if r.Committed < 0 {
			committed = "-"
		}
		if r.Lag < 0 {
			lag = "?"
		} else {
			totals[r.Group] += r.Lag
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\t\n", r.Group, r.State, r.Topic, r.Partition, committed, r.End, lag)
	}
	_ = tw.Flush()
	var names []string
	for g := range totals {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		fmt.Fprintf(w, "%s: total lag %d\n", g, totals[g])
	}
}

func lagCmd(ctx context.Context, args []string, st Streams) error {
	fs := newTool("lag", "[flags] [GROUP...]", st)
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka to ask"+runningNova+" [KAFKA_BROKERS]")
	sec := kafkaSecurity(fs.FlagSet, fs.getenv)
	groups, err := fs.parse(args)
	if err != nil {
		return err
	}
	addrs, login := kafka.ParseBrokers(*brokers), sec()
	if err := checkKafka(ctx, addrs, login); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, kafkaWait)
	defer cancel()
	rows, err := broker.Lag(ctx, addrs, login, groups...)
	if err != nil {
		return err
	}
	WriteLag(st.Out, rows)
	return nil
}
