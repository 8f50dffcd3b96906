package id

// The id types. Each has the same methods; they are written out rather than
// generic so that each stays a plain string type (usable as a map key, in
// fmt, in SQL parameters) with no type parameter at use sites.

// UserID identifies a user.
type UserID string

// ParseUserID validates s as a user id.
func ParseUserID(s string) (UserID, error) {
	v, err := parse("user", s)
	return UserID(v), err
}

// NewUserID mints a fresh user id (UUIDv7).
func NewUserID() UserID { return UserID(mint()) }

// String returns the canonical text form.
func (i UserID) String() string { return string(i) }

// IsZero reports whether i is the empty id (not set).
func (i UserID) IsZero() bool { return i == "" }

// UnmarshalText validates while decoding (JSON strings, map keys), so a
// request body with a malformed id is rejected at the decoder.
func (i *UserID) UnmarshalText(b []byte) error {
	v, err := ParseUserID(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// PostID identifies a post.
type PostID string

// ParsePostID validates s as a post id.
func ParsePostID(s string) (PostID, error) {
	v, err := parse("post", s)
	return PostID(v), err
}

// NewPostID mints a fresh post id (UUIDv7).
func NewPostID() PostID { return PostID(mint()) }

// String returns the canonical text form.
func (i PostID) String() string { return string(i) }

// IsZero reports whether i is the empty id (not set).
func (i PostID) IsZero() bool { return i == "" }

// UnmarshalText validates while decoding (JSON strings, map keys), so a
// request body with a malformed id is rejected at the decoder.
func (i *PostID) UnmarshalText(b []byte) error {
	v, err := ParsePostID(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// MediaID identifies an uploaded media object.
type MediaID string

// ParseMediaID validates s as a media id.
func ParseMediaID(s string) (MediaID, error) {
	v, err := parse("media", s)
	return MediaID(v), err
}

// NewMediaID mints a fresh media id (UUIDv7).
func NewMediaID() MediaID { return MediaID(mint()) }

// String returns the canonical text form.
func (i MediaID) String() string { return string(i) }

// IsZero reports whether i is the empty id (not set).
func (i MediaID) IsZero() bool { return i == "" }

// UnmarshalText validates while decoding (JSON strings, map keys), so a
// request body with a malformed id is rejected at the decoder.
func (i *MediaID) UnmarshalText(b []byte) error {
	v, err := ParseMediaID(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// ConversationID identifies a direct-message conversation (1:1 or group).
type ConversationID string

// ParseConversationID validates s as a conversation id.
func ParseConversationID(s string) (ConversationID, error) {
	v, err := parse("conversation", s)
	return ConversationID(v), err
}

// NewConversationID mints a fresh conversation id (UUIDv7).
func NewConversationID() ConversationID { return ConversationID(mint()) }

// String returns the canonical text form.
func (i ConversationID) String() string { return string(i) }

// IsZero reports whether i is the empty id (not set).
func (i ConversationID) IsZero() bool { return i == "" }

// UnmarshalText validates while decoding (JSON strings, map keys), so a
// request body with a malformed id is rejected at the decoder.
func (i *ConversationID) UnmarshalText(b []byte) error {
	v, err := ParseConversationID(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// MessageID identifies a message in a conversation.
type MessageID string

// ParseMessageID validates s as a message id.
func ParseMessageID(s string) (MessageID, error) {
	v, err := parse("message", s)
	return MessageID(v), err
}

// NewMessageID mints a fresh message id (UUIDv7).
func NewMessageID() MessageID { return MessageID(mint()) }

// String returns the canonical text form.
func (i MessageID) String() string { return string(i) }

// IsZero reports whether i is the empty id (not set).
func (i MessageID) IsZero() bool { return i == "" }

// UnmarshalText validates while decoding (JSON strings, map keys), so a
// request body with a malformed id is rejected at the decoder.
func (i *MessageID) UnmarshalText(b []byte) error {
	v, err := ParseMessageID(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// NotificationID identifies a notification in a user's inbox.
type NotificationID string

// ParseNotificationID validates s as a notification id.
func ParseNotificationID(s string) (NotificationID, error) {
	v, err := parse("notification", s)
	return NotificationID(v), err
}

// NewNotificationID mints a fresh notification id (UUIDv7).
func NewNotificationID() NotificationID { return NotificationID(mint()) }

// String returns the canonical text form.
func (i NotificationID) String() string { return string(i) }

// IsZero reports whether i is the empty id (not set).
func (i NotificationID) IsZero() bool { return i == "" }

// UnmarshalText validates while decoding (JSON strings, map keys), so a
// request body with a malformed id is rejected at the decoder.
func (i *NotificationID) UnmarshalText(b []byte) error {
	v, err := ParseNotificationID(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}
