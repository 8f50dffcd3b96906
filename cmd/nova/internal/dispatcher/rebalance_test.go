package dispatcher

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/testrig"
)

// TestScaleOutAndInMidLoad: one KafkaSource run by one dispatcher, then
// three in its consumer group, then one again, while records keep coming and
// deliveries are in flight at every rebalance (a cluster's KafkaSource
// dispatchers do this on every scale event). Nothing is lost; an ordered
// source never has two events of one partition in flight at once, even
// across members, and delivers each partition's records for the first time
// in offset order. Redeliveries (a record delivered before a rebalance whose
// offset was not yet committed) are counted: they are what at-least-once
// allows and what the functions' idempotence absorbs.
func TestScaleOutAndInMidLoad(t *testing.T) {
	for _, ordering := range []source.Ordering{source.Ordered, source.Unordered} {
		t.Run(string(ordering), func(t *testing.T) {
			c := testrig.Kafka(t)
			brokers := c.ListenAddrs()
			const partitions, rounds, perRound = 6, 12, 60
			topic := newTopic(t, c, partitions)

			var (
				mu       sync.Mutex
				inFlight = map[int32]int{}
				overlap  int
			)
			s := newSink(t, func(h hit, _ int) (int, string) {
				p, _ := h.coordinates()
				mu.Lock()
				inFlight[p]++
				if inFlight[p] > 1 {
					overlap++
				}
				mu.Unlock()
				time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
				mu.Lock()
				inFlight[p]--
				mu.Unlock()
				return 202, ""
			})
			src := testSource(topic, s.URL(), func(k *source.KafkaSource) { k.Ordering = ordering })
			cfg := testConfig(brokers)
			members := []running{start(t, cfg, src)}
			prod := producer(t, brokers)
			adm := admin(t, brokers)
			for r := range rounds {
				produce(t, prod, plainRecords(topic, partitions, perRound, r*perRound)...)
				switch r {
				case 2, 4: // scale out to two, then three
					cfg := testConfig(brokers)
					members = append(members, start(t, cfg, src))
					waitFor(t, "the group to take the new member", func() bool {
						return groupMembers(adm, src.ConsumerGroup) == len(members)
					})
				case 7, 9: // scale in: the newest member stops mid-delivery
					members[len(members)-1].stop()
					members = members[:len(members)-1]
				}
				time.Sleep(150 * time.Millisecond)
			}
			const n = rounds * perRound
			waitFor(t, "every record delivered", func() bool { return s.distinct() >= n })

			firsts := map[int32][]int64{}
			seen := map[string]bool{}
			for _, h := range s.snapshot() {
				if seen[h.id()] {
					continue
				}
				seen[h.id()] = true
				p, o := h.coordinates()
				firsts[p] = append(firsts[p], o)
			}
			total := 0
			for p, offs := range firsts {
				total += len(offs)
				if ordering != source.Ordered {
					continue
				}
				for i, o := range offs {
					if o != int64(i) {
						t.Errorf("partition %d: first deliveries %v are not the offsets in order", p, offs)
						break
					}
				}
			}
			mu.Lock()
			overlaps := overlap
			mu.Unlock()
			if ordering == source.Ordered && overlaps > 0 {
				t.Errorf("%d times two events of one partition were in flight at once", overlaps)
			}
			t.Logf("%s: %d records, %d delivered, %d requests (%d redeliveries) over scale 1→2→3→2→1",
				ordering, n, total, s.count(), s.count()-total)
			if total != n {
				t.Errorf("%d distinct records delivered, want %d", total, n)
			}
		})
	}
}

// groupMembers is how many members group has now, as the coordinator
// describes it (0 while it rebalances).
func groupMembers(adm *kadm.Client, group string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	groups, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return 0
	}
	g, ok := groups[group]
	if !ok || g.Err != nil || g.State != "Stable" {
		return 0
	}
	return len(g.Members)
}
