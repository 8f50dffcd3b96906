package gateway

import (
	"testing"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/id"
)

// FuzzParseFrame feeds parseFrame what a client can send on its websocket.
// It must never panic; it answers a ping, refuses with bad_frame or
// invalid, or returns a message every check of which holds.
func FuzzParseFrame(f *testing.F) {
	conv := "0193a0a0-0000-7000-8000-000000000001"
	for _, s := range []string{
		`{"type":"ping"}`,
		`{"type":"message","conversation_id":"` + conv + `","client_message_id":"c1","content":"hi","message_type":"TEXT"}`,
		`{"type":"message","conversation_id":"` + conv + `","client_message_id":"c2","message_type":"IMAGE","media_ids":["0193a0a0-0000-7000-8000-000000000002"]}`,
		`{"type":"message","conversation_id":"` + conv + `","client_message_id":"c 3","content":"x","message_type":"TEXT"}`,
		`{"type":"message","conversation_id":"../x","client_message_id":"c4","content":"x","message_type":"TEXT"}`,
		`{"type":"message","conversation_id":"` + conv + `","client_message_id":"c5","content":"\xff","message_type":"TEXT"}`,
		`{"type":"message","conversation_id":"` + conv + `","client_message_id":"c6","message_type":"GIF"}`,
		`{"type":"nope"}`, `[]`, `null`, `{"type":1}`, ``,
	} {
		f.Add(true, []byte(s))
	}
	f.Add(false, []byte(`{"type":"ping"}`))
	f.Fuzz(func(t *testing.T, text bool, data []byte) {
		typ := websocket.MessageBinary
		if text {
			typ = websocket.MessageText
		}
		kind, s, refusal := parseFrame(typ, data)
		switch {
		case refusal != nil:
			if refusal.Type != TypeError || (refusal.Code != CodeBadFrame && refusal.Code != CodeInvalid) || refusal.Message == "" {
				t.Fatalf("refusal %+v", *refusal)
			}
		case kind == TypePing:
			if !text {
				t.Fatal("a binary frame was taken as a ping")
			}
		case kind == TypeMessage:
			if !text || !messaging.ValidClientMessageID(s.clientID) || !utf8.ValidString(s.content) ||
				utf8.RuneCountInString(s.content) > maxContentRunes {
				t.Fatalf("accepted %+v from %q", s, data)
			}
			if _, err := id.ParseConversationID(string(s.conv)); err != nil {
				t.Fatalf("accepted conversation %q", s.conv)
			}
			if _, err := messaging.ParseType(s.typ); err != nil {
				t.Fatalf("accepted message type %q", s.typ)
			}
			for _, m := range s.media {
				if _, err := id.ParseMediaID(m); err != nil {
					t.Fatalf("accepted media id %q", m)
				}
			}
		default:
			t.Fatalf("parseFrame(%q) = %q with no refusal", data, kind)
		}
	})
}
