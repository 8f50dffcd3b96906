package kafka_test

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/kafka"
)

// kcat runs the kcat binary (librdkafka, the C client) as a producer.
func kcat(t *testing.T, brokers []string, stdin string, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (%v); install it with: apt-get install -y kcat", err)
	}
	args = append([]string{"-P", "-b", strings.Join(brokers, ","), "-X", "partitioner=murmur2_random"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

func TestKcatPartitionsLikeMurmur2(t *testing.T) {
	brokers := broker(t)
	keys := []string{"21", "foobar", "abc", "a-little-bit-long-string", "a-little-bit-longer-string",
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", "user456", "0190f1c2-7a3b-7c4d-8e5f-0123456789ab"}
	for i := 0; i < 40; i++ {
		keys = append(keys, fmt.Sprintf("user-%d", i))
	}
	var lines strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&lines, "%s\t{}\n", k)
	}
	kcat(t, brokers, lines.String(), "-t", catalog.ContentEvents, "-K", "\t")
	spread := map[int32]bool{}
	for _, m := range consume(t, brokers, len(keys)) {
		want := kafka.PartitionFor(m.Key, 6)
		if m.Partition != want {
			t.Errorf("librdkafka put key %q on partition %d, Nova's murmur2 says %d", m.Key, m.Partition, want)
		}
		spread[m.Partition] = true
	}
	if len(spread) < 3 {
		t.Errorf("keys landed on only %d partitions", len(spread))
	}
}

func readOne(t *testing.T, brokers []string) *sarama.ConsumerMessage {
	t.Helper()
	return consume(t, brokers, 1)[0]
}

// The design document's ids ("test123", "user456") as the contract has
// them: UUIDs.
const (
	kcatPost = "0190f1c2-7a3b-7c4d-8e5f-000000000123"
	kcatUser = "0190f1c2-7a3b-7c4d-8e5f-000000000456"
)

func TestKcatBinaryCloudEvent(t *testing.T) {
	brokers := broker(t)
	kcat(t, brokers, `{"postId":"`+kcatPost+`","userId":"`+kcatUser+`","content":"from librdkafka","type":"IMAGE","visibility":"FOLLOWERS_ONLY","tags":["c"],"createdAt":"2026-01-02T03:04:05Z"}`+"\n",
		"-t", catalog.ContentEvents, "-k", kcatUser,
		"-H", "ce_specversion=1.0",
		"-H", "ce_id=0190f1c2-7a3b-7c4d-8e5f-0123456789ab",
		"-H", "ce_source=/nova/content-service",
		"-H", "ce_type=com.nova.content.post.created",
		"-H", "ce_subject="+kcatPost,
		"-H", "ce_time=2026-01-02T03:04:05Z",
		"-H", "ce_partitionkey="+kcatUser,
		"-H", "content-type=application/json")
	m := readOne(t, brokers)
	if want := kafka.PartitionFor([]byte(kcatUser), 6); m.Partition != want {
		t.Errorf("partition %d, want %d", m.Partition, want)
	}
	e, err := kafka.EventFromRecord(m, src)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != "0190f1c2-7a3b-7c4d-8e5f-0123456789ab" || e.Source() != "/nova/content-service" || e.Subject() != kcatPost {
		t.Errorf("attributes not passed through: %s", e)
	}
	d, err := envelope.NewCodec(catalog.Default()).Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	want := &eventsv1.PostCreated{PostId: kcatPost, UserId: kcatUser, Content: "from librdkafka",
		Type: eventsv1.PostType_POST_TYPE_IMAGE, Visibility: eventsv1.PostVisibility_POST_VISIBILITY_FOLLOWERS_ONLY, Tags: []string{"c"},
		CreatedAt: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	if !proto.Equal(d.Message, want) {
		t.Errorf("decoded %v, want %v", d.Message, want)
	}
}

func TestKcatConsoleProducerRecord(t *testing.T) {
	brokers := broker(t)
	// The design document's integration test, with kcat in the place of
	// kafka-console-producer: no key, no headers, a JSON body.
	kcat(t, brokers, `{"post_id":"`+kcatPost+`","user_id":"`+kcatUser+`","content":"hello","type":"TEXT","visibility":"PUBLIC","tags":["kafka","test"]}`+"\n",
		"-t", catalog.ContentEvents)
	m := readOne(t, brokers)
	e, err := kafka.EventFromRecord(m, src)
	if err != nil {
		t.Fatal(err)
	}
	if e.Type() != envelope.KafkaEventType || e.ID() != fmt.Sprintf("partition:%d/offset:%d", m.Partition, m.Offset) {
		t.Errorf("plain record wrapped as %s", e)
	}
	d, err := envelope.NewCodec(catalog.Default()).Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	// The record has no created_at: it is the record's time.
	want := &eventsv1.PostCreated{PostId: kcatPost, UserId: kcatUser, Content: "hello",
		Type: eventsv1.PostType_POST_TYPE_TEXT, Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, Tags: []string{"kafka", "test"},
		CreatedAt: timestamppb.New(m.Timestamp)}
	if d.Type.Type != "com.nova.content.post.created" || !proto.Equal(d.Message, want) {
		t.Errorf("decoded %s %v, want %v", d.Type.Type, d.Message, want)
	}
}

func TestKcatUndecodableRecords(t *testing.T) {
	brokers := broker(t)
	kcat(t, brokers, "post test123 by user456\n", "-t", catalog.ContentEvents, "-k", kcatUser)
	// A plain record names no type, so its fields are all that tell the
	// topic's events apart: one no event has matches none of them.
	kcat(t, brokers, `{"post_id":"`+kcatPost+`","user_id":"`+kcatUser+`","colour":"red"}`+"\n", "-t", catalog.ContentEvents, "-k", kcatUser)
	kcat(t, brokers, `{"postId":"`+kcatPost+`"}`+"\n", "-t", catalog.ContentEvents,
		"-H", "ce_specversion=1.0", "-H", "ce_id=1", "-H", "ce_source=/x", "-H", "ce_type=com.example.unknown")
	codec := envelope.NewCodec(catalog.Default())
	kinds := map[error]int{}
	for _, m := range consume(t, brokers, 3) {
		e, err := kafka.EventFromRecord(m, src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = codec.Decode(e)
		var de *envelope.DecodeError
		if !errors.As(err, &de) || de.Reason == "" {
			t.Fatalf("record %q: error %v is not a DecodeError with a reason", m.Value, err)
		}
		kinds[de.Kind]++
		t.Logf("%s", err)
	}
	if kinds[envelope.ErrUndecodable] != 2 || kinds[envelope.ErrUnknownType] != 1 {
		t.Errorf("error kinds %v, want 2 undecodable and 1 unknown type", kinds)
	}
}
