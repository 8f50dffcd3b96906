package broker

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/nova-social/nova/shared/event/kafka"
)

// GroupLag is one consumer group's position on one partition, as
// kafka-consumer-groups --describe shows it.
type GroupLag struct {
	Group     string
	State     string
	Topic     string
	Partition int32
	Committed int64 // -1: nothing committed
	End       int64
	Lag       int64 // -1: unknown (see Err)
	Err       error
}

// Lag reads the lag of groups, or of every group when none is named, from
// the committed offsets: what `nova lag` prints and `nova bench mixed`
// follows. Rows are sorted by group, then topic and partition.
func Lag(ctx context.Context, brokers []string, sec kafka.Security, groups ...string) ([]GroupLag, error) {
	cl, err := NewClient(brokers, sec)
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if len(groups) == 0 {
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			// A refused login shows up here (kfake just closes the
			// connection), so the error says who tried.
			return nil, fmt.Errorf("list groups on %s (%s): %w", strings.Join(brokers, ","), sec, err)
		}
		groups = listed.Groups()
		if len(groups) == 0 {
			return nil, nil
		}
	}
	lags, err := adm.Lag(ctx, groups...)
	if err != nil {
		return nil, fmt.Errorf("lag (%s): %w", sec, err)
	}
	var rows []GroupLag
	for _, g := range lags.Sorted() {
		if err := g.Error(); err != nil {
			rows = append(rows, GroupLag{Group: g.Group, State: g.State, Lag: -1, Err: err})
			continue
		}
		for _, l := range g.Lag.Sorted() {
			rows = append(rows, GroupLag{
				Group: g.Group, State: g.State, Topic: l.Topic, Partition: l.Partition,
				Committed: l.Commit.At, End: l.End.Offset, Lag: l.Lag, Err: l.Err,
			})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Group < rows[j].Group })
	return rows, nil
}
