package testrig_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nova-social/nova/shared/catalog"
	"github.com/nova-social/nova/shared/testrig"
)

func TestPostgresIsFreshAndReal(t *testing.T) {
	pool := testrig.Postgres(t)
	var n int
	if err := pool.QueryRow(context.Background(),
		"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("fresh database has %d tables", n)
	}
}

func TestRedisAnswers(t *testing.T) {
	c := testrig.Redis(t)
	key := "testrig:" + testrig.ID()
	if err := c.Set(context.Background(), key, "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	defer c.Del(context.Background(), key)
	if v := c.Get(context.Background(), key).Val(); v != "1" {
		t.Fatalf("got %q", v)
	}
}

func TestKafkaHoldsCatalogueTopics(t *testing.T) {
	k := testrig.Kafka(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range catalog.Default().Topics() {
		d, ok := details[tp.Name]
		if !ok {
			t.Fatalf("topic %s missing", tp.Name)
		}
		if got := int32(len(d.Partitions)); got != tp.Partitions {
			t.Fatalf("topic %s: %d partitions, want %d", tp.Name, got, tp.Partitions)
		}
	}
}
