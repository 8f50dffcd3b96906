package kafka_test

import (
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/kafka"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// postDeleted is a PostDeleted by user that keeps the event contract; its
// Kafka key is user.
func postDeleted(user id.UserID) *eventsv1.PostDeleted {
	return &eventsv1.PostDeleted{PostId: id.NewPostID().String(), UserId: user.String(), DeletedAt: timestamppb.Now()}
}

// broker starts a Kafka broker with the catalogue's topics.
func broker(t testing.TB, opts ...testrig.KafkaOption) []string {
	t.Helper()
	return testrig.Kafka(t, opts...).ListenAddrs()
}

func newProducer(t testing.TB, cfg kafka.ProducerConfig) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// consume reads n records from the catalogue's topics, from the start.
func consume(t testing.TB, brokers []string, n int) []*sarama.ConsumerMessage {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Consumer.Return.Errors = true
	c, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer c.Close()
	out := make(chan *sarama.ConsumerMessage, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, tp := range catalog.Default().Topics() {
		for p := int32(0); p < tp.Partitions; p++ {
			pc, err := c.ConsumePartition(tp.Name, p, sarama.OffsetOldest)
			if err != nil {
				t.Fatalf("consume %s/%d: %v", tp.Name, p, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer pc.Close()
				for {
					select {
					case m := <-pc.Messages():
						select {
						case out <- m:
						case <-stop:
							return
						}
					case err := <-pc.Errors():
						t.Errorf("consume: %v", err)
					case <-stop:
						return
					}
				}
			}()
		}
	}
	defer wg.Wait()
	defer close(stop)
	var got []*sarama.ConsumerMessage
	// A generous bound so a lost record fails the test instead of hanging it.
	deadline := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case m := <-out:
			got = append(got, m)
		case <-deadline:
			t.Fatalf("received %d of %d records", len(got), n)
		}
	}
	return got
}
