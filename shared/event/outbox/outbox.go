// Package outbox is Nova's transactional outbox: a producer writes its own
// rows and the CloudEvent that announces them in one PostgreSQL transaction,
// and a Relay publishes the event to Kafka afterwards. An event is therefore
// published if and only if its transaction committed, even when Kafka was
// down at the time.
//
// # Order
//
// Events of one partition key reach Kafka in the order their transactions
// committed. A bigserial id alone does not give that: two transactions can
// take ids 10 and 11 and commit in the opposite order, and a relay that reads
// both afterwards sends 10 first. So Enqueue serialises the writers of a key:
// before inserting, it takes a transaction-scoped advisory lock on a hash of
// (topic, key), held until commit or rollback. A second transaction writing
// the same key waits for the first to end before it draws its id, so within a
// key the ids are in commit order, and since the lock is released only after
// the commit became visible, the committed rows of a key a reader sees are
// always a prefix of that order. Keys that do not share a hash do not wait
// for each other.
//
// The cost is that transactions writing the same key queue up from their
// Enqueue to their commit, so Enqueue belongs at the end of a transaction,
// after the producer's own writes (a transaction holding a key lock while
// waiting for a row lock another holder of that row waits on, deadlocks).
// A transaction that emits events of several keys passes them all to one
// EnqueueAll, which takes the key locks in a fixed order; two transactions
// that call Enqueue for the same two keys in opposite orders deadlock, and
// PostgreSQL aborts one of them (SQLSTATE 40P01).
//
// # Relays
//
// Several relay replicas may run at once. Rows are grouped into 256 lanes by
// a hash of (topic, key), so every row of a key is in the same lane. In each
// round a relay opens a transaction, takes pg_try_advisory_xact_lock on up
// to Config.LanesPerBatch lanes that have pending rows (in random order, so
// replicas spread over the lanes), reads the oldest rows of those lanes in id
// order, sends them, deletes the acknowledged ones and commits, which
// releases the lanes. A lane is owned by one relay at a time, so a row is
// sent once in normal operation and a key's rows leave in order; the rows are
// read only after the lanes are locked, so a relay never sends rows another
// relay deleted in a transaction that committed just before. Row locks (FOR
// UPDATE SKIP LOCKED) were not used because they let two relays split the
// rows of one key and send them concurrently, out of order.
//
// Delivery is at least once: a row is deleted only after the broker
// acknowledged it, so a relay that dies between the ack and its commit sends
// the row again. Within a key, a row whose send failed keeps every later row
// of that key in the table too, even those the broker acknowledged, so the
// key's last copy of each event on Kafka is in order. Consumers deduplicate
// on the CloudEvents (source, id), as everywhere in Nova.
//
// A relay publishes only the rows of the topics it is given
// (Config.Topics): those its function's Kafka user may write. Functions that
// share a topic share its rows; a lane's lock still serialises them, so a
// key's rows leave in order whichever of them sends. A row of a topic no
// running relay publishes waits; Outbox.New with the same topics refuses
// such a row when it is enqueued.
//
// The relay wakes on LISTEN/NOTIFY (Enqueue notifies inside the transaction,
// so the notification fires on commit) and polls every Config.PollInterval in
// case a notification was missed. When Kafka is unreachable the rows stay,
// the relay backs off exponentially up to Config.MaxBackoff, and the rows go
// in order once the broker answers again.
package outbox

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/migrate"
	"github.com/nova-social/nova/shared/telemetry"
)

// Component is the outbox's name in nova_schema_migrations.
const Component = "outbox"

// Table is the outbox table, and Channel the NOTIFY channel Enqueue signals.
const (
	Table   = "nova_outbox"
	Channel = "nova_outbox"
)

// Lanes is the number of lanes rows are grouped into for relays to share.
// It is part of the stored data (the lane column): changing it needs a
// migration that recomputes the lanes of pending rows.
const Lanes = 256

// Advisory lock classes (the first int4 of the two-key form) that keep the
// outbox's locks apart from each other and from other users of advisory
// locks. The values are arbitrary ("nob" + 'w' / 'l' in ASCII).
const (
	writerLockClass int32 = 0x6e6f6277 // writers of one (topic, key)
	laneLockClass   int32 = 0x6e6f626c // the relay that owns a lane
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the outbox's schema migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		// The path is a constant of this file; fs.Sub fails only on a bad one.
		panic(err)
	}
	return sub
}

// Migrate creates or upgrades the outbox table.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Apply(ctx, pool, Component, Migrations())
}

// Outbox writes events into the outbox table inside a caller's transaction.
// It is safe for concurrent use.
type Outbox struct {
	codec  *envelope.Codec
	topics []string
}

// New returns an Outbox that builds events with codec. topics, when given,
// are the only topics it takes events of: a function's own, those its relay
// publishes (Config.Topics). An event of another topic is refused when it is
// enqueued rather than left in the table for a relay that will never send
// it. With no topics it takes every topic of the catalogue.
func New(codec *envelope.Codec, topics ...string) *Outbox {
	return &Outbox{codec: codec, topics: topics}
}

// ErrForeignTopic means an Outbox was asked to enqueue an event of a topic
// its function does not publish.
var ErrForeignTopic = errors.New("outbox: topic not published by this function")

// Enqueue builds msg's CloudEvent and stores it in tx, to be published when
// tx commits and dropped when it rolls back. It returns the event as it will
// be published. It holds a lock on the event's partition key until tx ends;
// see the package doc.
func (o *Outbox) Enqueue(ctx context.Context, tx pgx.Tx, msg proto.Message, opts ...envelope.Option) (cloudevents.Event, error) {
	evs, err := o.EnqueueAll(ctx, tx, []proto.Message{msg}, opts...)
	if err != nil {
		return cloudevents.Event{}, err
	}
	return evs[0], nil
}

// EnqueueAll is Enqueue for several messages, published in the order given
// within each key. It takes the locks of all their keys in one fixed order,
// so transactions that each call EnqueueAll once cannot deadlock on the
// outbox whatever keys they mix; calling Enqueue once per key in varying
// orders can. opts apply to every event (WithID would give them all one id).
func (o *Outbox) EnqueueAll(ctx context.Context, tx pgx.Tx, msgs []proto.Message, opts ...envelope.Option) ([]cloudevents.Event, error) {
	if tx == nil {
		return nil, errors.New("outbox: enqueue needs a transaction")
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	evs := make([]cloudevents.Event, len(msgs))
	inserts := &pgx.Batch{}
	var hashes []int32
	for i, msg := range msgs {
		ev, topic, key, exts, err := o.build(ctx, msg, opts)
		if err != nil {
			return nil, err
		}
		evs[i] = ev
		h := keyHash(topic, key)
		hashes = append(hashes, int32(h))
		inserts.Queue(`INSERT INTO `+Table+` (lane, topic, key, event_id, source, type, subject, time,
			datacontenttype, dataschema, extensions, data)
			VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8, NULLIF($9, ''), NULLIF($10, ''), $11, $12)`,
			int16(h%Lanes), topic, key, ev.ID(), ev.Source(), ev.Type(), ev.Subject(), nullTime(ev.Time()),
			ev.DataContentType(), ev.DataSchema(), exts, ev.Data())
	}
	slices.Sort(hashes)
	b := &pgx.Batch{}
	for _, h := range slices.Compact(hashes) {
		b.Queue("SELECT pg_advisory_xact_lock($1, $2)", writerLockClass, h)
	}
	b.QueuedQueries = append(b.QueuedQueries, inserts.QueuedQueries...)
	// Inside the transaction: the notification is delivered on commit only.
	b.Queue("SELECT pg_notify($1, '')", Channel)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("outbox: enqueue %s: %w", evs[0].Type(), err)
	}
	return evs, nil
}

// build makes msg's event and the values stored with it. The event carries
// the trace of ctx (the request or reaction whose transaction writes it) as
// its Distributed Tracing extension, stored with it, so the relay's publish
// continues that trace whenever it runs.
func (o *Outbox) build(ctx context.Context, msg proto.Message, opts []envelope.Option) (ev cloudevents.Event, topic, key string, exts map[string]string, err error) {
	ev, err = o.codec.New(msg, opts...)
	if err != nil {
		return ev, "", "", nil, fmt.Errorf("outbox: %w", err)
	}
	telemetry.SetEventTrace(ctx, &ev)
	et, ok := o.codec.Catalog().ByType(ev.Type())
	if !ok {
		return ev, "", "", nil, fmt.Errorf("outbox: event type %s has no topic in the catalogue", ev.Type())
	}
	key, _ = ev.Extensions()[envelope.PartitionKeyExtension].(string)
	if key == "" {
		key = et.Key(msg)
	}
	// PostgreSQL keeps microseconds; the returned event must be the one the
	// relay will publish.
	ev.SetTime(ev.Time().Truncate(time.Microsecond))
	exts = make(map[string]string, len(ev.Extensions()))
	for name, v := range ev.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return ev, "", "", nil, fmt.Errorf("outbox: extension %s: %w", name, err)
		}
		exts[name] = s
	}
	if len(o.topics) > 0 && !slices.Contains(o.topics, et.Topic) {
		return ev, "", "", nil, fmt.Errorf("%w: %s is on %s; this outbox publishes %v", ErrForeignTopic, ev.Type(), et.Topic, o.topics)
	}
	return ev, et.Topic, key, exts, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// keyHash is the hash writers lock on and lanes are cut from. Any stable
// hash works; it only has to be the same for every row of a key.
func keyHash(topic, key string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(topic))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	return h.Sum32()
}
