package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/shared/event/kafka"
)

// Backlog is work the system has accepted and not yet finished: consumer
// lag, or events still in the outbox. The mixed workload follows each one
// to find the peak and the moment it has drained.
type Backlog interface {
	Name() string
	Pending(ctx context.Context) (int64, error)
	Close()
}

// KafkaLag is the total lag of every consumer group on the cluster, read
// from the committed offsets as nova lag reads it (broker.Lag).
type KafkaLag struct {
	brokers []string
	sec     kafka.Security

	mu     sync.Mutex
	behind []string // the partitions with lag at the last reading
}

// NewKafkaLag reads the lag on brokers, logged in as sec says.
func NewKafkaLag(brokers []string, sec kafka.Security) *KafkaLag {
	return &KafkaLag{brokers: brokers, sec: sec}
}

func (k *KafkaLag) Name() string { return "consumer lag" }

func (k *KafkaLag) Close() {}

// Pending sums the lag of all groups; a group whose lag cannot be read is
// an error rather than zero, so a drain is never declared on missing data.
func (k *KafkaLag) Pending(ctx context.Context) (int64, error) {
	rows, err := broker.Lag(ctx, k.brokers, k.sec)
	if err != nil {
		return 0, err
	}
	var total int64
	var behind []string
	for _, l := range rows {
		switch {
		case l.Err != nil && l.Topic == "":
			return 0, fmt.Errorf("lag of group %s: %w", l.Group, l.Err)
		case l.Err != nil:
			return 0, fmt.Errorf("lag of group %s on %s/%d: %w", l.Group, l.Topic, l.Partition, l.Err)
		}
		total += l.Lag
		if l.Lag > 0 {
			behind = append(behind, fmt.Sprintf("%s on %s/%d: %d", l.Group, l.Topic, l.Partition, l.Lag))
		}
	}
	k.mu.Lock()
	k.behind = behind
	k.mu.Unlock()
	return total, nil
}

// Detail names the partitions behind at the last reading.
func (k *KafkaLag) Detail() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	const most = 10
	if len(k.behind) > most {
		return strings.Join(k.behind[:most], "; ") + fmt.Sprintf("; and %d more", len(k.behind)-most)
	}
	return strings.Join(k.behind, "; ")
}

// MetricsLag sums kafka_consumer_lag from the dispatcher's Prometheus
// endpoint. The dispatcher refreshes the gauge every few seconds, so peaks
// and drain times read this way are that coarse.
type MetricsLag struct {
	URL    string
	Client *http.Client
}

func (m *MetricsLag) Name() string { return "consumer lag (metrics)" }

func (m *MetricsLag) Close() {}

func (m *MetricsLag) Pending(ctx context.Context) (int64, error) {
	c := m.Client
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics at %s: %w", m.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics at %s: status %d", m.URL, resp.StatusCode)
	}
	var total float64
	var seen bool
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "kafka_consumer_lag{") && !strings.HasPrefix(line, "kafka_consumer_lag ") {
			continue
		}
		fields := strings.Fields(line[strings.LastIndexByte(line, '}')+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics at %s: %q: %w", m.URL, line, err)
		}
		total += v
		seen = true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("metrics at %s: %w", m.URL, err)
	}
	if !seen {
		return 0, errors.New("no kafka_consumer_lag series at " + m.URL)
	}
	return int64(total), nil
}

// OutboxBacklog counts events nova-api has committed and its relay has not
// yet published.
type OutboxBacklog struct{ pool *pgxpool.Pool }

// NewOutboxBacklog connects to nova-api's database.
func NewOutboxBacklog(ctx context.Context, databaseURL string) (*OutboxBacklog, error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", databaseURL, err)
	}
	return &OutboxBacklog{pool: pool}, nil
}

func (o *OutboxBacklog) Name() string { return "outbox" }

func (o *OutboxBacklog) Close() { o.pool.Close() }

func (o *OutboxBacklog) Pending(ctx context.Context) (int64, error) {
	var n int64
	if err := o.pool.QueryRow(ctx, `SELECT count(*) FROM nova_outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count outbox rows: %w", err)
	}
	return n, nil
}
