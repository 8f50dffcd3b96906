package store_test

import (
	"bytes"
	"context"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/nova-social/nova/functions/dead-letter/store"
	"github.com/nova-social/nova/shared/testrig"
)

// A protobuf event received in binary mode holds raw bytes that are not
// UTF-8; storing it must not fail, and its data must survive.
func TestBinaryDataIsStoredAndKept(t *testing.T) {
	ctx := context.Background()
	pool := testrig.Postgres(t)
	if err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	e := cloudevents.NewEvent()
	e.SetID("bin-1")
	e.SetSource("/nova/realtime-chat-service")
	e.SetType("com.nova.chat.message.submitted")
	data := []byte{0x0a, 0x02, 0xff, 0xfe, 0x00, 0x80}
	if err := e.SetData("application/protobuf", data); err != nil {
		t.Fatal(err)
	}
	e.DataBase64 = false // as the HTTP binary-mode receiver leaves it
	e.SetExtension("knativeerrorcode", "400")
	e.SetExtension("knativeerrordata", "//79") // base64 of bytes that are not text
	s := store.New(pool)
	if _, err := s.Save(ctx, e); err != nil {
		t.Fatalf("save: %v", err)
	}
	got, err := s.List(ctx, store.Filter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %v %v", got, err)
	}
	if got[0].ErrorCode != 400 {
		t.Fatalf("entry %+v", got[0])
	}
	if !bytes.Equal(got[0].Event.Data(), data) {
		t.Fatalf("stored data %x, want %x", got[0].Event.Data(), data)
	}
}
