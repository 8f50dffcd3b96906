// Package store keeps dead-lettered events in PostgreSQL: each event once per
// (source, id) and destination that failed it (several consumers of a topic
// can each dead-letter it), with the reason its delivery failed and where it
// was read from, listed newest first and marked when someone replays it.
package store

import (
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/migrate"
)

// Component is this store's name in the migrations table.
const Component = "dead-letter"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the store's schema files.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		// The embed pattern above guarantees the folder.
		panic(err)
	}
	return sub
}

// Migrate brings the database schema up to date.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Apply(ctx, pool, Component, Migrations())
}

// A record a KafkaSource wrapped itself (envelope.KafkaEventType) has the
// id "partition:<p>/offset:<o>" and a source ending "#<topic>".
var wrappedID = regexp.MustCompile(`^partition:(\d+)/offset:(\d+)$`)

// ErrNotFound means no dead letter has that source, id (and destination).
var ErrNotFound = errors.New("dead letter not found")

// Entry is one dead-lettered event.
type Entry struct {
	Seq       int64
	Source    string
	ID        string
	Type      string
	Subject   string
	EventTime time.Time // zero when the event has none

	ErrorDest string // the URL delivery failed to; with Source and ID, the entry's key
	ErrorCode int    // the last HTTP status, 0 when there was none
	ErrorData string // the failing response's body, decoded

	Topic     string // "" when unknown
	Partition *int32
	Offset    *int64

	Event      event.Event // the event as it arrived
	ReceivedAt time.Time
	ReplayedAt *time.Time
}

// EntryFromEvent reads the dead-letter facts out of an event.
func EntryFromEvent(e event.Event) Entry {
	ent := Entry{
		Source:    e.Source(),
		ID:        e.ID(),
		Type:      e.Type(),
		Subject:   e.Subject(),
		EventTime: e.Time(),
		Event:     e,
	}
	ext := e.Extensions()
	ent.ErrorDest = extString(ext, delivery.ExtErrorDest)
	if c, err := strconv.Atoi(extString(ext, delivery.ExtErrorCode)); err == nil {
		ent.ErrorCode = c
	}
	ent.ErrorData = decodeErrorData(extString(ext, delivery.ExtErrorData))

	ent.Topic = extString(ext, delivery.ExtKafkaTopic)
	if p, err := strconv.ParseInt(extString(ext, delivery.ExtKafkaPartition), 10, 32); err == nil {
		p32 := int32(p)
		ent.Partition = &p32
	}
	if o, err := strconv.ParseInt(extString(ext, delivery.ExtKafkaOffset), 10, 64); err == nil {
		ent.Offset = &o
	}
	if e.Type() == envelope.KafkaEventType {
		if m := wrappedID.FindStringSubmatch(e.ID()); m != nil && ent.Partition == nil {
			p, _ := strconv.ParseInt(m[1], 10, 32)
			o, _ := strconv.ParseInt(m[2], 10, 64)
			p32 := int32(p)
			ent.Partition, ent.Offset = &p32, &o
		}
		if ent.Topic == "" {
			ent.Topic = envelope.TopicOf(e.Source())
		}
	}
	return ent
}

// UntrustedEntry is EntryFromEvent without the Kafka coordinates, which
// only a dispatcher's word makes true.
func UntrustedEntry(e event.Event) Entry {
	ent := EntryFromEvent(e)
	ent.Topic, ent.Partition, ent.Offset = "", nil, nil
	return ent
}

func extString(ext map[string]any, name string) string {
	v, ok := ext[name]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// decodeErrorData undoes the base64 Knative applies to the response body; a
// value that is not base64, or whose bytes are not text, is kept as it came.
// Whatever remains is made storable as PostgreSQL text (valid UTF-8, no NUL):
// a body that cannot be stored must not make the dead letter itself fail.
func decodeErrorData(s string) string {
	if s == "" {
		return ""
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && utf8.Valid(b) {
		s = string(b)
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Store reads and writes dead letters.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on a migrated database.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Save stores a dead-lettered event, one entry per destination that failed
// it (knativeerrordest): every consumer of a topic that dead-letters the
// same event keeps its own entry and reason. It returns false when the same
// failure at the same destination was stored already: redelivery of a dead
// letter is normal (at-least-once), and the first copy is the one kept. A
// new failure at a destination already stored replaces that destination's
// entry (with a new Seq) and leaves it pending: after a replay, or for a
// second copy of the event read at another offset, so a failure is never
// hidden behind an earlier one's replay. Without Kafka coordinates (a
// cluster's KafkaSource) only a replayed entry is replaced.
//
// Save trusts the Kafka coordinates the event carries: call it only for
// an event a dispatcher delivered (its verified identity says so).
func (s *Store) Save(ctx context.Context, e event.Event) (bool, error) {
	return s.save(ctx, e, EntryFromEvent(e))
}

// SaveUntrusted stores e as Save does, without the topic, partition and
// offset its sender claims: an entry saved so can be listed but never
// replayed, since whoever sent it could have planted any event for any
// topic.
func (s *Store) SaveUntrusted(ctx context.Context, e event.Event) (bool, error) {
	return s.save(ctx, e, UntrustedEntry(e))
}

func (s *Store) save(ctx context.Context, e event.Event, ent Entry) (bool, error) {
	if d := e.Data(); len(d) > 0 && !json.Valid(d) {
		// Binary data (protobuf) received in binary mode would be written
		// as a JSON string of raw bytes, which is not valid UTF-8 and which
		// PostgreSQL refuses; structured mode carries it as data_base64.
		e.DataBase64 = true
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return false, fmt.Errorf("dead-letter: encode event %s: %w", e.ID(), err)
	}
	var evTime *time.Time
	if !ent.EventTime.IsZero() {
		evTime = &ent.EventTime
	}
	var topic *string
	if ent.Topic != "" {
		topic = &ent.Topic
	}
	tag, err := s.pool.Exec(ctx, `
INSERT INTO dead_letters (source, id, type, subject, event_time, error_dest, error_code, error_data,
                          topic, kafka_partition, kafka_offset, event)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (source, id, error_dest) DO UPDATE SET
    seq = EXCLUDED.seq, type = EXCLUDED.type, subject = EXCLUDED.subject, event_time = EXCLUDED.event_time,
    error_dest = EXCLUDED.error_dest, error_code = EXCLUDED.error_code, error_data = EXCLUDED.error_data,
    topic = EXCLUDED.topic, kafka_partition = EXCLUDED.kafka_partition, kafka_offset = EXCLUDED.kafka_offset,
    event = EXCLUDED.event, received_at = now(), replayed_at = NULL
WHERE dead_letters.replayed_at IS NOT NULL
   OR (EXCLUDED.kafka_offset IS NOT NULL
       AND (dead_letters.topic, dead_letters.kafka_partition, dead_letters.kafka_offset)
           IS DISTINCT FROM (EXCLUDED.topic, EXCLUDED.kafka_partition, EXCLUDED.kafka_offset))`,
		ent.Source, ent.ID, ent.Type, ent.Subject, evTime, ent.ErrorDest, ent.ErrorCode, ent.ErrorData,
		topic, ent.Partition, ent.Offset, raw)
	if err != nil {
		return false, fmt.Errorf("dead-letter: store %s %s for %q: %w", ent.Source, ent.ID, ent.ErrorDest, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Filter narrows a listing. Zero values match everything.
type Filter struct {
	Topic  string
	Source string
	// ID is the CloudEvents id; with Source it names one event (an entry
	// per destination that failed it).
	ID   string
	Type string
	// Partition and Offset, with Topic, name one record: the entries of
	// every consumer that failed it.
	Partition *int32
	Offset    *int64
	// Since leaves out entries received before it.
	Since time.Time
	// Pending leaves out entries already replayed.
	Pending bool
	// OldestFirst lists in the order the entries were received, as a replay
	// sends them, so events of one key go back in their original order.
	OldestFirst bool
	// Limit caps the result; 0 means 100.
	Limit int
}

// List returns dead letters, newest first unless f.OldestFirst.
func (s *Store) List(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var where []string
	var args []any
	if f.Topic != "" {
		args = append(args, f.Topic)
		where = append(where, fmt.Sprintf("topic = $%d", len(args)))
	}
	if f.Source != "" {
		args = append(args, f.Source)
		where = append(where, fmt.Sprintf("source = $%d", len(args)))
	}
	if f.ID != "" {
		args = append(args, f.ID)
		where = append(where, fmt.Sprintf("id = $%d", len(args)))
	}
	if f.Type != "" {
		args = append(args, f.Type)
		where = append(where, fmt.Sprintf("type = $%d", len(args)))
	}
	if f.Partition != nil {
		args = append(args, *f.Partition)
		where = append(where, fmt.Sprintf("kafka_partition = $%d", len(args)))
	}
	if f.Offset != nil {
		args = append(args, *f.Offset)
		where = append(where, fmt.Sprintf("kafka_offset = $%d", len(args)))
	}
	if !f.Since.IsZero() {
		args = append(args, f.Since)
		where = append(where, fmt.Sprintf("received_at >= $%d", len(args)))
	}
	if f.Pending {
		where = append(where, "replayed_at IS NULL")
	}
	q := `SELECT seq, source, id, type, subject, event_time, error_dest, error_code, error_data,
       topic, kafka_partition, kafka_offset, event, received_at, replayed_at FROM dead_letters`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	order := "DESC"
	if f.OldestFirst {
		order = "ASC"
	}
	q += fmt.Sprintf(" ORDER BY seq %s LIMIT $%d", order, len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("dead-letter: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanEntry)
	if err != nil {
		return nil, fmt.Errorf("dead-letter: list: %w", err)
	}
	return out, nil
}

// Get returns the entry of the event (source, id) that failed at dest
// (Entry.ErrorDest). List with Filter{Source, ID} returns every
// destination's.
func (s *Store) Get(ctx context.Context, source, id, dest string) (Entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, source, id, type, subject, event_time, error_dest, error_code, error_data,
       topic, kafka_partition, kafka_offset, event, received_at, replayed_at FROM dead_letters
WHERE source = $1 AND id = $2 AND error_dest = $3`, source, id, dest)
	if err != nil {
		return Entry{}, fmt.Errorf("dead-letter: get: %w", err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEntry)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, fmt.Errorf("%w: %s %s for %q", ErrNotFound, source, id, dest)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("dead-letter: get: %w", err)
	}
	return e, nil
}

// MarkReplayed records that the event was sent again, which every consumer
// of its topic receives: each of its entries, whatever destination failed
// it, is marked, so listings of pending dead letters leave them out.
// Marking twice keeps the first time.
func (s *Store) MarkReplayed(ctx context.Context, source, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE dead_letters SET replayed_at = coalesce(replayed_at, now())
WHERE source = $1 AND id = $2`, source, id)
	if err != nil {
		return fmt.Errorf("dead-letter: mark replayed: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s %s", ErrNotFound, source, id)
	}
	return nil
}

// MarkReplayedIf marks the entry numbered seq (Entry.Seq) replayed, if it
// is still that failure. It returns false when the entry was stored again
// since (a new failure at its destination gets a new Seq), say because
// the replayed copy already failed too: that newer failure must stay
// pending.
func (s *Store) MarkReplayedIf(ctx context.Context, seq int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE dead_letters SET replayed_at = coalesce(replayed_at, now())
WHERE seq = $1`, seq)
	if err != nil {
		return false, fmt.Errorf("dead-letter: mark replayed: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

func scanEntry(r pgx.CollectableRow) (Entry, error) {
	var (
		e       Entry
		evTime  *time.Time
		topic   *string
		payload []byte
	)
	if err := r.Scan(&e.Seq, &e.Source, &e.ID, &e.Type, &e.Subject, &evTime, &e.ErrorDest, &e.ErrorCode,
		&e.ErrorData, &topic, &e.Partition, &e.Offset, &payload, &e.ReceivedAt, &e.ReplayedAt); err != nil {
		return e, err
	}
	if evTime != nil {
		e.EventTime = *evTime
	}
	if topic != nil {
		e.Topic = *topic
	}
	if err := json.Unmarshal(payload, &e.Event); err != nil {
		return e, fmt.Errorf("decode stored event %s %s: %w", e.Source, e.ID, err)
	}
	return e, nil
}

// PendingByDestination counts the entries not yet replayed per destination
// that failed them, for the most-failing limit destinations: a bound on
// what a metric's labels can grow to, since an unverified sender names any
// destination it likes.
func (s *Store) PendingByDestination(ctx context.Context, limit int) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `
SELECT error_dest, count(*) FROM dead_letters WHERE replayed_at IS NULL
GROUP BY error_dest ORDER BY count(*) DESC, error_dest LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("dead-letter: count pending entries: %w", err)
	}
	out := map[string]int64{}
	var (
		dest string
		n    int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&dest, &n}, func() error { out[dest] = n; return nil }); err != nil {
		return nil, fmt.Errorf("dead-letter: count pending entries: %w", err)
	}
	return out, nil
}
