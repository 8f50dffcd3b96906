package broker

import (
	"errors"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Faults plays a misbehaving Kafka on the embedded broker: writes refused
// by topic, or every produce request cut off as an unreachable broker's
// would be. Tests drive it, through `nova kafka -control` when they run the
// broker as a separate process.
type Faults struct {
	c       *kfake.Cluster
	mu      sync.Mutex
	refuse  []string
	drop    bool
	dropped int64
}

// NewFaults installs the fault switch on c; nothing is refused until told.
func NewFaults(c *kfake.Cluster) *Faults {
	f := &Faults{c: c}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return f.produce(req.(*kmsg.ProduceRequest))
	})
	return f
}

// RefuseWrites makes every produce to one of topics answer
// TOPIC_AUTHORIZATION_FAILED, replacing the topics refused before; none
// lifts the refusal.
func (f *Faults) RefuseWrites(topics ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = slices.Clone(topics)
}

// MoveLeaders elects a new leader for every partition, at random among
// the cluster's nodes, and moves every group coordinator, as a rolling
// restart of a real cluster does: clients asking the old leader or
// coordinator are told NOT_LEADER_OR_FOLLOWER or NOT_COORDINATOR and must
// find the new one. Every partition's leader epoch goes up, even on a
// single node.
func (f *Faults) MoveLeaders() {
	f.c.ShufflePartitionLeaders()
	f.c.RehashCoordinators()
}

// Leaders maps each node to how many partitions of topics it leads.
func (f *Faults) Leaders(topics map[string]int32) map[int32]int {
	out := map[int32]int{}
	for t, n := range topics {
		for p := range n {
			out[f.c.LeaderFor(t, p)]++
		}
	}
	return out
}

// DropProduce, while on, drops the connection of every produce request.
func (f *Faults) DropProduce(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop = on
}

// Dropped counts the produce requests dropped so far.
func (f *Faults) Dropped() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

var errUnreachable = errors.New("broker unreachable (fault injected)")

func (f *Faults) produce(req *kmsg.ProduceRequest) (kmsg.Response, error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drop {
		f.dropped++
		return nil, errUnreachable, true
	}
	if len(f.refuse) == 0 {
		return nil, nil, false
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		if !slices.Contains(f.refuse, rt.Topic) {
			continue
		}
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil, len(resp.Topics) > 0
}
