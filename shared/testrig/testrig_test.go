package testrig_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/nova-social/nova/shared/event/catalog"
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

// A database a test used comes to the next test empty: no tables, schemas,
// extensions or sessions of the last one, and no two tests share one.
func TestPostgresReusedDatabasesComeBackEmpty(t *testing.T) {
	ctx := context.Background()
	var (
		first    string
		leftOpen *pgx.Conn
		err      error
	)
	t.Run("dirty", func(t *testing.T) {
		pool := testrig.Postgres(t)
		for _, q := range []string{"CREATE TABLE left_behind (id int)", "CREATE SCHEMA elsewhere",
			"CREATE TABLE elsewhere.t (id int)", "CREATE EXTENSION pg_trgm", "SELECT lo_create(0)"} {
			if _, err := pool.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&first); err != nil {
			t.Fatal(err)
		}
		other := testrig.Postgres(t)
		var second string
		if err := other.QueryRow(ctx, "SELECT current_database()").Scan(&second); err != nil || second == first {
			t.Fatalf("two databases in one test: %q and %q (%v)", first, second, err)
		}
		// A session the test leaves open in a transaction holding a lock
		// is ended when the database is given back, not waited for.
		if leftOpen, err = pgx.Connect(ctx, pool.Config().ConnConfig.ConnString()); err != nil {
			t.Fatal(err)
		}
		if _, err := leftOpen.Exec(ctx, "BEGIN; LOCK TABLE left_behind"); err != nil {
			t.Fatal(err)
		}
	})
	defer leftOpen.Close(ctx)
	if err := leftOpen.Ping(ctx); err == nil {
		t.Error("a session left open outlived its test")
	}
	pool := testrig.Postgres(t)
	var name string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != first {
		t.Logf("got %s, not the reused %s: the check below proves less", name, first)
	}
	var objects int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema')
		+ (SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public'))
		+ (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')
		+ (SELECT count(*) FROM pg_largeobject_metadata)`).Scan(&objects); err != nil {
		t.Fatal(err)
	}
	if objects != 0 {
		t.Fatalf("the reused database holds %d objects of the last test", objects)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE left_behind (id int)"); err != nil {
		t.Fatalf("the public schema is not usable as in a new database: %v", err)
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
	cl, err := sarama.NewClient(k.ListenAddrs(), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, tp := range catalog.Default().Topics() {
		parts, err := cl.Partitions(tp.Name)
		if err != nil {
			t.Fatalf("topic %s: %v", tp.Name, err)
		}
		if got := int32(len(parts)); got != tp.Partitions {
			t.Fatalf("topic %s: %d partitions, want %d", tp.Name, got, tp.Partitions)
		}
	}
}

// The broker's faults and bookkeeping answer as the tests rely on.
func TestKafkaControl(t *testing.T) {
	k := testrig.Kafka(t)
	k.CreateTopic(t, "control-"+testrig.ID(), 2)
	if n := k.Written(t, catalog.ContentEvents); n != 0 {
		t.Fatalf("%d records in a new broker", n)
	}
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 0
	p, err := sarama.NewSyncProducer(k.ListenAddrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	send := func(topic string) error {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("x")})
		return err
	}
	if err := send(catalog.ContentEvents); err != nil {
		t.Fatal(err)
	}
	k.RefuseWrites(t, catalog.ContentEvents)
	if err := send(catalog.ContentEvents); !errors.Is(err, sarama.ErrTopicAuthorizationFailed) {
		t.Fatalf("write to a refused topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := send(catalog.UserEvents); err != nil {
		t.Fatalf("write to another topic: %v", err)
	}
	k.RefuseWrites(t)
	k.DropProduce(t, true)
	if err := send(catalog.ContentEvents); err == nil {
		t.Fatal("a write went through while produce requests were dropped")
	}
	if k.Dropped(t) == 0 {
		t.Fatal("no produce request counted as dropped")
	}
	k.DropProduce(t, false)
	if err := send(catalog.ContentEvents); err != nil {
		t.Fatalf("write after the fault was lifted: %v", err)
	}
	if n := k.Written(t, catalog.ContentEvents); n != 2 {
		t.Fatalf("%d records written to %s, want 2", n, catalog.ContentEvents)
	}
}

func TestKafkaRestartsOnItsDataDir(t *testing.T) {
	dir := t.TempDir()
	k := testrig.Kafka(t, testrig.KafkaDataDir(dir))
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(k.ListenAddrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: catalog.UserEvents, Value: sarama.StringEncoder("x")}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	k.Close()
	k = testrig.Kafka(t, testrig.KafkaDataDir(dir))
	if n := k.Written(t, catalog.UserEvents); n != 1 {
		t.Fatalf("%d records after the restart, want the 1 written before", n)
	}
}

func TestLockedRedisTakesOnlyLogins(t *testing.T) {
	ctx := context.Background()
	admin := testrig.LockedRedis(t)
	opt, err := redis.ParseURL(admin)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("administrator: %v", err)
	}
	anon := redis.NewClient(&redis.Options{Addr: opt.Addr, MaxRetries: -1})
	defer anon.Close()
	if err := anon.Get(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("a client without a login got %v, want NOAUTH", err)
	}
}
