package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/shared/kafka"
)

// LagRow is one group's position on one partition.
type LagRow struct {
	Group     string
	State     string
	Topic     string
	Partition int32
	Committed int64 // -1: nothing committed
	End       int64
	Lag       int64 // -1: unknown (see Err)
	Err       error
}

// Lag reads the lag of groups, or of every group when none is named.
func Lag(ctx context.Context, brokers []string, groups ...string) ([]LagRow, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if len(groups) == 0 {
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		groups = listed.Groups()
		if len(groups) == 0 {
			return nil, nil
		}
	}
	lags, err := adm.Lag(ctx, groups...)
	if err != nil {
		return nil, fmt.Errorf("lag: %w", err)
	}
	var rows []LagRow
	for _, g := range lags.Sorted() {
		if err := g.Error(); err != nil {
			rows = append(rows, LagRow{Group: g.Group, State: g.State, Lag: -1, Err: err})
			continue
		}
		for _, l := range g.Lag.Sorted() {
			rows = append(rows, LagRow{
				Group: g.Group, State: g.State, Topic: l.Topic, Partition: l.Partition,
				Committed: l.Commit.At, End: l.End.Offset, Lag: l.Lag, Err: l.Err,
			})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Group < rows[j].Group })
	return rows, nil
}

// WriteLag prints rows as a table with a total per group.
func WriteLag(w io.Writer, rows []LagRow) {
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
	fs := newFlags("lag", "[flags] [GROUP...]", st)
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka to ask [KAFKA_BROKERS]")
	groups, err := parse(fs, args)
	if err != nil {
		return err
	}
	rows, err := Lag(ctx, kafka.ParseBrokers(*brokers), groups...)
	if err != nil {
		return err
	}
	WriteLag(st.Out, rows)
	return nil
}
