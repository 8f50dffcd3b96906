// Package dispatcher runs Knative KafkaSources on one machine: for each
// source it joins the source's consumer group and posts every record, as a
// binary-mode CloudEvent, to the sink, with Knative's ordering, retry,
// timeout and dead-letter rules. It runs the Triggers of Knative Kafka
// Brokers the same way, with the Kafka Broker's dispatcher's differences
// (see Trigger). An offset is committed only once every event
// before it is done (delivered or dead-lettered), so a restart, of the
// dispatcher or of Kafka, resumes with nothing lost and nothing skipped.
// Delivery is at least once, as on a cluster.
package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/nova-social/nova/cmd/nova/internal/source"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/event/sender"
)

// Dispatcher delivers the events of a set of KafkaSources.
type Dispatcher struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	runners []*runner
}

// runner is one source or Trigger: its consumer group and the addresses it
// posts to.
type runner struct {
	d       *Dispatcher
	src     source.KafkaSource // for a Trigger, the equivalent settings
	trig    *triggerRun        // nil for a KafkaSource
	ref     string
	brokers []string
	sec     kafka.Security // how the runner logs in
	sink    *url.URL
	dls     *url.URL // nil: failures are dropped, as Knative drops them
	// as is who the runner's deliveries come from: the KafkaSource or
	// Trigger, whose OIDC service account the tokens are for.
	as     sender.Ref
	slots  chan struct{} // unordered: bounds the events in flight
	mu     sync.Mutex    // guards client and admin
	client sarama.Client // set while running
	admin  sarama.ClusterAdmin
}

// New checks cfg and the sources and resolves every sink and dead-letter
// sink through res. It connects to nothing; Run does.
func New(ctx context.Context, cfg Config, srcs []source.KafkaSource, res Resolver) (*Dispatcher, error) {
	return NewWithTriggers(ctx, cfg, srcs, nil, res)
}

// NewWithTriggers is New for KafkaSources and the Triggers of Kafka
// Brokers together; a Trigger's subscriber and dead-letter sink are
// resolved through res too.
func NewWithTriggers(ctx context.Context, cfg Config, srcs []source.KafkaSource, trigs []Trigger, res Resolver) (*Dispatcher, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dispatcher config: %w", err)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("register dispatcher metrics: %w", err)
	}
	d := &Dispatcher{cfg: cfg, log: cfg.Logger, metrics: m}
	groups := map[string]string{}
	var errs []error
	for _, s := range srcs {
		r := &runner{d: d, src: s, ref: s.Ref(), brokers: s.BootstrapServers,
			as: sender.Ref{Kind: sender.KindKafkaSource, Name: s.Name}}
		if len(cfg.Brokers) > 0 {
			r.brokers = cfg.Brokers
		}
		if prev, ok := groups[s.ConsumerGroup]; ok {
			// Two sources in one group would take partitions from each other.
			errs = append(errs, fmt.Errorf("%s: KafkaSource %s uses consumer group %q, as %s does",
				s.File, r.ref, s.ConsumerGroup, prev))
		}
		groups[s.ConsumerGroup] = r.ref
		if len(r.brokers) == 0 || len(s.Topics) == 0 {
			errs = append(errs, fmt.Errorf("%s: KafkaSource %s has no brokers or no topics", s.File, r.ref))
		}
		if r.sec, err = sourceSecurity(cfg, s); err != nil {
			errs = append(errs, fmt.Errorf("%s: KafkaSource %s: spec.net: %w", s.File, r.ref, err))
		}
		if r.sink, err = resolve(ctx, res, s.Sink); err != nil {
			errs = append(errs, fmt.Errorf("%s: KafkaSource %s: spec.sink: %w", s.File, r.ref, err))
		}
		if s.Delivery.DeadLetterSink != nil {
			if r.dls, err = resolve(ctx, res, *s.Delivery.DeadLetterSink); err != nil {
				errs = append(errs, fmt.Errorf("%s: KafkaSource %s: spec.delivery.deadLetterSink: %w", s.File, r.ref, err))
			}
		}
		if s.Delivery.Timeout <= 0 {
			errs = append(errs, fmt.Errorf("%s: KafkaSource %s: delivery timeout must be positive", s.File, r.ref))
		}
		if s.Ordering == source.Unordered {
			r.slots = make(chan struct{}, cfg.MaxInFlight)
		}
		d.runners = append(d.runners, r)
	}
	for _, t := range trigs {
		r := d.newTriggerRunner(t)
		r.as = sender.Ref{Kind: sender.KindTrigger, Name: t.Trigger.Name}
		what := fmt.Sprintf("%s: Trigger %s", t.Trigger.File, t.Trigger.Ref())
		r.sec = cfg.BrokerSecurity
		if len(cfg.Brokers) > 0 {
			r.brokers = cfg.Brokers
		}
		if prev, ok := groups[r.src.ConsumerGroup]; ok {
			errs = append(errs, fmt.Errorf("%s uses consumer group %q, as %s does", what, r.src.ConsumerGroup, prev))
		}
		groups[r.src.ConsumerGroup] = r.ref
		if t.Broker.Name != t.Trigger.Broker || t.Broker.Namespace != t.Trigger.Namespace {
			errs = append(errs, fmt.Errorf("%s names Broker %s/%s, given %s", what, t.Trigger.Namespace, t.Trigger.Broker, t.Broker.Ref()))
		}
		if len(r.brokers) == 0 {
			errs = append(errs, fmt.Errorf("%s: Broker %s has no bootstrap servers", what, t.Broker.Ref()))
		}
		if r.sink, err = resolve(ctx, res, r.src.Sink); err != nil {
			errs = append(errs, fmt.Errorf("%s: spec.subscriber: %w", what, err))
		}
		if dls := r.src.Delivery.DeadLetterSink; dls != nil {
			if r.dls, err = resolve(ctx, res, *dls); err != nil {
				errs = append(errs, fmt.Errorf("%s: dead-letter sink (its delivery or its Broker's): %w", what, err))
			}
		}
		if t.Reply == nil {
			errs = append(errs, fmt.Errorf("%s: no way to store replies into its Broker", what))
		}
		if r.src.Ordering == source.Unordered {
			r.slots = make(chan struct{}, cfg.MaxInFlight)
		}
		d.runners = append(d.runners, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// kind names what a runner runs, for messages.
func (r *runner) kind() string {
	if r.trig != nil {
		return "Trigger"
	}
	return "KafkaSource"
}

// Sink is where the source named "<namespace>/<name>" (a Trigger:
// TriggerRef) posts events, and its dead-letter sink (nil when it has
// none); ok is false for an unknown one.
func (d *Dispatcher) Sink(ref string) (sink, deadLetter *url.URL, ok bool) {
	for _, r := range d.runners {
		if r.ref == ref {
			return r.sink, r.dls, true
		}
	}
	return nil, nil, false
}

// sourceSecurity is the login s's spec.net asks for, its Secrets read
// through cfg.Secrets.
func sourceSecurity(cfg Config, s source.KafkaSource) (kafka.Security, error) {
	if !s.Net.SASL && !s.Net.TLS {
		return kafka.Security{}, nil
	}
	if cfg.Secrets == nil {
		return kafka.Security{}, errors.New("it logs in with Secrets, and the dispatcher was given none")
	}
	return s.Net.Security(func(ref source.SecretKeyRef) (string, error) { return cfg.Secrets(s.Namespace, ref) })
}

func (r *runner) saramaConfig() (*sarama.Config, error) {
	c := sarama.NewConfig()
	c.ClientID = r.d.cfg.ClientID
	c.Version = r.d.cfg.KafkaVersion
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = r.d.cfg.CommitInterval
	c.Consumer.Offsets.Initial = sarama.OffsetNewest
	if r.src.InitialOffset == source.OffsetEarliest {
		c.Consumer.Offsets.Initial = sarama.OffsetOldest
	}
	c.Consumer.Group.Session.Timeout = r.d.cfg.SessionTimeout
	c.Consumer.Group.Heartbeat.Interval = r.d.cfg.HeartbeatInterval
	c.Metadata.AllowAutoTopicCreation = false
	if err := r.sec.Apply(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Run consumes and delivers until ctx ends, then leaves every consumer group
// (committing what is done) and returns nil. Events in flight at that moment
// are abandoned uncommitted and delivered again by the next run. An error is
// returned only when a source cannot connect at start.
func (d *Dispatcher) Run(ctx context.Context) error {
	var groups []sarama.ConsumerGroup
	closeAll := func() {
		for _, g := range groups {
			if err := g.Close(); err != nil {
				d.log.Warn("close consumer group", "error", err)
			}
		}
		for _, r := range d.runners {
			r.mu.Lock()
			if r.client != nil {
				_ = r.client.Close()
				r.client, r.admin = nil, nil
			}
			r.mu.Unlock()
		}
	}
	for _, r := range d.runners {
		sc, err := r.saramaConfig()
		if err != nil {
			closeAll()
			return fmt.Errorf("%s %s: %w", r.kind(), r.ref, err)
		}
		client, err := sarama.NewClient(r.brokers, sc)
		if err != nil {
			closeAll()
			return fmt.Errorf("%s %s: connect to %v (%s): %w", r.kind(), r.ref, r.brokers, r.sec, err)
		}
		group, err := sarama.NewConsumerGroupFromClient(r.src.ConsumerGroup, client)
		if err != nil {
			_ = client.Close()
			closeAll()
			return fmt.Errorf("%s %s: consumer group %s: %w", r.kind(), r.ref, r.src.ConsumerGroup, err)
		}
		groups = append(groups, group)
		// The admin shares the client; it is not closed on its own, since
		// closing it would close the client under the group.
		admin, err := sarama.NewClusterAdminFromClient(client)
		if err != nil {
			closeAll()
			return fmt.Errorf("%s %s: admin: %w", r.kind(), r.ref, err)
		}
		r.mu.Lock()
		r.client, r.admin = client, admin
		r.mu.Unlock()
	}
	// Every Trigger has its starting offsets before anything consumes,
	// so nothing a KafkaSource posts into a Broker from now on is missed.
	for _, r := range d.runners {
		if r.trig == nil {
			continue
		}
		if err := r.initOffsets(r.client, r.admin); err != nil {
			closeAll()
			return fmt.Errorf("Trigger %s: %w", r.ref, err)
		}
	}

	var wg sync.WaitGroup
	for i, r := range d.runners {
		g := groups[i]
		wg.Go(func() { r.consume(ctx, g) })
		wg.Go(func() {
			for err := range g.Errors() {
				d.log.Warn("consumer group", "source", r.ref, "group", r.src.ConsumerGroup, "error", err)
			}
		})
	}
	wg.Go(func() { d.lagLoop(ctx) })
	d.log.Info("dispatcher running", "runners", len(d.runners))
	<-ctx.Done()
	// Consume returns once ctx ends; closing the groups then commits the
	// marked offsets, leaves the groups and ends their error channels.
	closeAll()
	wg.Wait()
	return nil
}

// consume keeps the runner in its consumer group until ctx ends, rejoining
// after each rebalance or error.
func (r *runner) consume(ctx context.Context, g sarama.ConsumerGroup) {
	h := &handler{r: r}
	for ctx.Err() == nil {
		if err := g.Consume(ctx, r.src.Topics, h); err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) || ctx.Err() != nil {
				return
			}
			r.d.log.Warn("consumer group session ended", "source", r.ref, "group", r.src.ConsumerGroup, "error", err)
			sleep(ctx, time.Second)
		}
	}
}

// handler is the sarama.ConsumerGroupHandler of a runner.
type handler struct{ r *runner }

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim delivers one partition's records. It returns when the session
// ends (a rebalance or shutdown), after its in-flight events have stopped.
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	if h.r.src.Ordering == source.Unordered {
		return h.unordered(sess, claim)
	}
	ctx := sess.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if !h.r.handle(ctx, msg) {
				return nil
			}
			sess.MarkOffset(msg.Topic, msg.Partition, msg.Offset+1, "")
		}
	}
}

// unordered delivers up to MaxInFlight events of the source at once (the
// bound is shared by the partitions this member holds) and commits each
// partition only as far as its first unfinished event.
func (h *handler) unordered(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	t := newTracker()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			select {
			case h.r.slots <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			t.start(msg.Offset)
			wg.Go(func() {
				defer func() { <-h.r.slots }()
				if h.r.handle(ctx, msg) {
					t.finish(msg.Offset, func(next int64) {
						sess.MarkOffset(msg.Topic, msg.Partition, next, "")
					})
				}
			})
		}
	}
}
