// Package post is the post domain shared by the producer (content), the feed,
// search and moderation: types, visibility rules, and the conversion between
// the API's names and the protobuf events.
package post

import (
	"fmt"
	"strings"
	"time"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
)

// Visibility says who may see a post. Its values are the design document's
// names, which the API uses too.
type Visibility string

// Visibilities.
const (
	Public        Visibility = "PUBLIC"
	Private       Visibility = "PRIVATE"
	FollowersOnly Visibility = "FOLLOWERS_ONLY"
)

// Type is the kind of a post.
type Type string

// Types.
const (
	Text  Type = "TEXT"
	Image Type = "IMAGE"
	Video Type = "VIDEO"
	Reel  Type = "REEL"
)

// ParseVisibility accepts the design document's names (case-insensitive) and
// the protobuf names; the empty string is not a visibility.
func ParseVisibility(s string) (Visibility, error) {
	v := Visibility(strings.TrimPrefix(strings.ToUpper(s), "POST_VISIBILITY_"))
	switch v {
	case Public, Private, FollowersOnly:
		return v, nil
	}
	return "", fmt.Errorf("unknown visibility %q (want PUBLIC, PRIVATE or FOLLOWERS_ONLY)", s)
}

// ParseType accepts the design document's names (case-insensitive) and the
// protobuf names.
func ParseType(s string) (Type, error) {
	t := Type(strings.TrimPrefix(strings.ToUpper(s), "POST_TYPE_"))
	switch t {
	case Text, Image, Video, Reel:
		return t, nil
	}
	return "", fmt.Errorf("unknown post type %q (want TEXT, IMAGE, VIDEO or REEL)", s)
}

// Proto returns the protobuf enum value.
func (v Visibility) Proto() eventsv1.PostVisibility {
	return eventsv1.PostVisibility(eventsv1.PostVisibility_value["POST_VISIBILITY_"+string(v)])
}

// Proto returns the protobuf enum value.
func (t Type) Proto() eventsv1.PostType {
	return eventsv1.PostType(eventsv1.PostType_value["POST_TYPE_"+string(t)])
}

// VisibilityFromProto maps the protobuf enum; UNSPECIFIED reads as PUBLIC,
// the default a client gets when it names none.
func VisibilityFromProto(v eventsv1.PostVisibility) Visibility {
	if p, err := ParseVisibility(v.String()); err == nil {
		return p
	}
	return Public
}

// TypeFromProto maps the protobuf enum; UNSPECIFIED reads as TEXT.
func TypeFromProto(t eventsv1.PostType) Type {
	if p, err := ParseType(t.String()); err == nil {
		return p
	}
	return Text
}

// Media is a file attached to a post.
type Media struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	URL             string `json:"url"`
	ThumbnailURL    string `json:"thumbnail_url,omitempty"`
	Width           int32  `json:"width,omitempty"`
	Height          int32  `json:"height,omitempty"`
	SizeBytes       int64  `json:"size_bytes,omitempty"`
	MimeType        string `json:"mime_type,omitempty"`
	DurationSeconds *int32 `json:"duration_seconds,omitempty"`
}

// Summary is what readers need of a post: the feed's local cache entry and
// the API's post body.
type Summary struct {
	ID           string     `json:"id"`
	AuthorID     string     `json:"author_id"`
	Content      string     `json:"content"`
	Type         Type       `json:"type"`
	Visibility   Visibility `json:"visibility"`
	Tags         []string   `json:"tags"`
	Media        []Media    `json:"media"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	Hidden       bool       `json:"hidden,omitempty"`
	HiddenReason string     `json:"hidden_reason,omitempty"`
}

// Reachable reports whether followers may have the post in their feeds:
// neither private nor hidden.
func (s Summary) Reachable() bool { return s.Visibility != Private && !s.Hidden }

// VisibleTo reports whether viewer may read the post, given whether viewer
// follows its author. Authors always see their own posts, hidden ones too
// (so they can see why it was hidden).
func (s Summary) VisibleTo(viewer string, follows bool) bool {
	if viewer != "" && viewer == s.AuthorID {
		return true
	}
	if s.Hidden {
		return false
	}
	switch s.Visibility {
	case Public:
		return true
	case FollowersOnly:
		return follows
	}
	return false
}

// FromCreated builds the summary a PostCreated describes.
func FromCreated(e *eventsv1.PostCreated) Summary {
	created := e.GetCreatedAt().AsTime()
	return Summary{
		ID:         e.GetPostId(),
		AuthorID:   e.GetUserId(),
		Content:    e.GetContent(),
		Type:       TypeFromProto(e.GetType()),
		Visibility: VisibilityFromProto(e.GetVisibility()),
		Tags:       nonNil(e.GetTags()),
		Media:      MediaFromProto(e.GetMedia()),
		CreatedAt:  created,
		UpdatedAt:  created,
	}
}

// Apply returns the summary after a PostUpdated. It reports false when the
// update is older than the summary (a stale redelivery), leaving it as is.
func (s Summary) Apply(e *eventsv1.PostUpdated) (Summary, bool) {
	at := e.GetUpdatedAt().AsTime()
	if at.Before(s.UpdatedAt) {
		return s, false
	}
	n := s
	n.UpdatedAt = at
	if e.Content != nil {
		n.Content = e.GetContent()
	}
	n.Tags = nonNil(e.GetTags())
	if e.Visibility != nil {
		n.Visibility = VisibilityFromProto(e.GetVisibility())
	}
	n.Media = MediaFromProto(e.GetMedia())
	if e.Hidden != nil {
		n.Hidden = e.GetHidden()
		n.HiddenReason = e.GetHiddenReason()
	}
	if e.GetType() != eventsv1.PostType_POST_TYPE_UNSPECIFIED {
		n.Type = TypeFromProto(e.GetType())
	}
	return n, true
}

// MediaFromProto converts attached media.
func MediaFromProto(ms []*eventsv1.MediaRef) []Media {
	out := make([]Media, 0, len(ms))
	for _, m := range ms {
		md := m.GetMetadata()
		var duration *int32
		if md != nil {
			duration = md.DurationSeconds
		}
		out = append(out, Media{
			ID:              m.GetMediaId(),
			Type:            strings.TrimPrefix(m.GetType().String(), "MEDIA_TYPE_"),
			URL:             m.GetUrl(),
			ThumbnailURL:    m.GetThumbnailUrl(),
			Width:           md.GetWidth(),
			Height:          md.GetHeight(),
			SizeBytes:       md.GetSizeBytes(),
			MimeType:        md.GetMimeType(),
			DurationSeconds: duration,
		})
	}
	return out
}

// MediaToProto converts attached media for an event.
func MediaToProto(ms []Media) []*eventsv1.MediaRef {
	out := make([]*eventsv1.MediaRef, 0, len(ms))
	for _, m := range ms {
		out = append(out, &eventsv1.MediaRef{
			MediaId:      m.ID,
			Type:         eventsv1.MediaType(eventsv1.MediaType_value["MEDIA_TYPE_"+m.Type]),
			Url:          m.URL,
			ThumbnailUrl: m.ThumbnailURL,
			Metadata: &eventsv1.MediaMetadata{
				Width: m.Width, Height: m.Height, SizeBytes: m.SizeBytes,
				MimeType: m.MimeType, DurationSeconds: m.DurationSeconds,
			},
		})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return append([]string(nil), s...)
}
