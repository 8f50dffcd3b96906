package broker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
)

// ErrTopics is returned (wrapped in a *TopicsError) when the cluster lacks
// catalogue topics or partitions and Nova was not asked to create them.
var ErrTopics = errors.New("kafka topics do not match the catalogue")

// TopicsError lists what is missing.
type TopicsError struct {
	Missing []string          // topics that do not exist
	Short   map[string]string // topic -> "has N partitions, needs M"
}

func (e *TopicsError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing "+strings.Join(e.Missing, ", "))
	}
	var short []string
	for t, why := range e.Short {
		short = append(short, t+" "+why)
	}
	sort.Strings(short)
	parts = append(parts, short...)
	return fmt.Sprintf("%v: %s (run with --create-topics to create them)", ErrTopics, strings.Join(parts, "; "))
}

func (e *TopicsError) Unwrap() error { return ErrTopics }

// EnsureTopics checks that every catalogue topic exists on the cluster at
// brokers with at least the catalogue's partitions. With create it creates
// missing topics and adds partitions to short ones, and returns the names it
// changed; without, it returns a *TopicsError. Partitions are never removed:
// Kafka cannot, and a topic with more than the catalogue asks is fine.
func EnsureTopics(ctx context.Context, brokers []string, sec kafka.Security, cat *catalog.Catalog, create bool) ([]string, error) {
	cl, err := NewClient(brokers, sec)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	names := make([]string, 0, len(cat.Topics()))
	for _, t := range cat.Topics() {
		names = append(names, t.Name)
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("broker: list topics on %s: %w", strings.Join(brokers, ","), err)
	}

	te := &TopicsError{Short: map[string]string{}}
	var missing []catalog.Topic
	grow := map[string]int32{} // topic -> partitions to reach
	for _, t := range cat.Topics() {
		d, ok := details[t.Name]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			missing = append(missing, t)
			te.Missing = append(te.Missing, t.Name)
		case d.Err != nil:
			return nil, fmt.Errorf("broker: describe topic %s: %w", t.Name, d.Err)
		case int32(len(d.Partitions)) < t.Partitions:
			grow[t.Name] = t.Partitions
			te.Short[t.Name] = fmt.Sprintf("has %d partitions, needs %d", len(d.Partitions), t.Partitions)
		}
	}
	if len(missing) == 0 && len(grow) == 0 {
		return nil, nil
	}
	if !create {
		return nil, te
	}

	var changed []string
	for _, t := range missing {
		// Another process may create it between the list and here; that
		// is as good as creating it.
		resp, err := adm.CreateTopic(ctx, t.Partitions, t.Replication, nil, t.Name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return changed, fmt.Errorf("broker: create topic %s: %w %s", t.Name, err, resp.ErrMessage)
		}
		changed = append(changed, t.Name)
	}
	for name, n := range grow {
		resps, err := adm.UpdatePartitions(ctx, int(n), name)
		if err != nil {
			return changed, fmt.Errorf("broker: add partitions to %s: %w", name, err)
		}
		if r := resps[name]; r.Err != nil {
			return changed, fmt.Errorf("broker: add partitions to %s: %w %s", name, r.Err, r.ErrMessage)
		}
		changed = append(changed, name)
	}
	sort.Strings(changed)
	return changed, nil
}

// Topic is a topic besides the catalogue's.
type Topic struct {
	Name        string
	Partitions  int32
	Replication int16
	// Config holds topic configs set at creation (retention.ms, ...).
	Config map[string]string
	// External marks a topic that is not Nova's to create (a Kafka
	// Broker's external.topic): it must exist already.
	External bool
}

// EnsureExtraTopics makes sure each of topics exists on the cluster at
// brokers, as the Knative Kafka Broker's controller does with a Broker's
// topic: a missing one is created (with create) at its partitions,
// replication and configs, and a topic that exists is taken as it is, its
// partitions and configs unchecked. An External topic is never created.
// It returns the names it created; what is missing and may not be created
// is a *TopicsError.
func EnsureExtraTopics(ctx context.Context, brokers []string, sec kafka.Security, topics []Topic, create bool) ([]string, error) {
	if len(topics) == 0 {
		return nil, nil
	}
	cl, err := NewClient(brokers, sec)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("broker: list topics on %s: %w", strings.Join(brokers, ","), err)
	}
	te := &TopicsError{Short: map[string]string{}}
	var created []string
	for _, t := range topics {
		d, ok := details[t.Name]
		switch {
		case ok && d.Err == nil:
			continue
		case ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			return created, fmt.Errorf("broker: describe topic %s: %w", t.Name, d.Err)
		case t.External:
			te.Missing = append(te.Missing, t.Name+" (external: create it first)")
			continue
		case !create:
			te.Missing = append(te.Missing, t.Name)
			continue
		}
		configs := make(map[string]*string, len(t.Config))
		for k, v := range t.Config {
			configs[k] = &v
		}
		resp, err := adm.CreateTopic(ctx, t.Partitions, t.Replication, configs, t.Name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return created, fmt.Errorf("broker: create topic %s: %w %s", t.Name, err, resp.ErrMessage)
		}
		created = append(created, t.Name)
	}
	if len(te.Missing) > 0 {
		return created, te
	}
	return created, nil
}
