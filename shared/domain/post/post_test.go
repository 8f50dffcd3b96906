package post_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/post"
)

func TestParseVisibility(t *testing.T) {
	for in, want := range map[string]post.Visibility{
		"PUBLIC": post.Public, "private": post.Private, "FOLLOWERS_ONLY": post.FollowersOnly,
		"POST_VISIBILITY_PRIVATE": post.Private,
	} {
		got, err := post.ParseVisibility(in)
		if err != nil || got != want {
			t.Errorf("ParseVisibility(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "FRIENDS", "POST_VISIBILITY_UNSPECIFIED", "public "} {
		if _, err := post.ParseVisibility(in); err == nil {
			t.Errorf("ParseVisibility(%q) accepted", in)
		}
	}
}

func TestParseType(t *testing.T) {
	for _, in := range []string{"TEXT", "image", "VIDEO", "REEL", "POST_TYPE_REEL"} {
		if _, err := post.ParseType(in); err != nil {
			t.Errorf("ParseType(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "GIF", "POST_TYPE_UNSPECIFIED"} {
		if _, err := post.ParseType(in); err == nil {
			t.Errorf("ParseType(%q) accepted", in)
		}
	}
}

func TestProtoRoundTrip(t *testing.T) {
	for _, v := range []post.Visibility{post.Public, post.Private, post.FollowersOnly} {
		if got := post.VisibilityFromProto(v.Proto()); got != v {
			t.Errorf("visibility %q → %v → %q", v, v.Proto(), got)
		}
	}
	for _, ty := range []post.Type{post.Text, post.Image, post.Video, post.Reel} {
		if got := post.TypeFromProto(ty.Proto()); got != ty {
			t.Errorf("type %q → %v → %q", ty, ty.Proto(), got)
		}
	}
}

func TestVisibleTo(t *testing.T) {
	s := post.Summary{AuthorID: "a", Visibility: post.FollowersOnly}
	cases := []struct {
		name    string
		s       post.Summary
		viewer  string
		follows bool
		want    bool
	}{
		{"author", s, "a", false, true},
		{"follower", s, "b", true, true},
		{"stranger", s, "b", false, false},
		{"anonymous", post.Summary{AuthorID: "a", Visibility: post.Public}, "", false, true},
		{"private to follower", post.Summary{AuthorID: "a", Visibility: post.Private}, "b", true, false},
		{"hidden to follower", post.Summary{AuthorID: "a", Visibility: post.Public, Hidden: true}, "b", true, false},
		{"hidden to author", post.Summary{AuthorID: "a", Visibility: post.Public, Hidden: true}, "a", false, true},
	}
	for _, c := range cases {
		if got := c.s.VisibleTo(c.viewer, c.follows); got != c.want {
			t.Errorf("%s: VisibleTo = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestApplyUpdate(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := post.FromCreated(&eventsv1.PostCreated{PostId: "p", UserId: "a", Content: "one", Tags: []string{"x"},
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PUBLIC, CreatedAt: timestamppb.New(t0)})
	n, ok := s.Apply(&eventsv1.PostUpdated{PostId: "p", UserId: "a", Tags: []string{"y"},
		Visibility: eventsv1.PostVisibility_POST_VISIBILITY_PRIVATE.Enum(), UpdatedAt: timestamppb.New(t0.Add(time.Minute))})
	if !ok || n.Content != "one" || n.Visibility != post.Private || len(n.Tags) != 1 || n.Tags[0] != "y" {
		t.Fatalf("apply without content: %+v ok=%v", n, ok)
	}
	n2, ok := n.Apply(&eventsv1.PostUpdated{PostId: "p", Content: proto.String("two"), UpdatedAt: timestamppb.New(t0.Add(30 * time.Second))})
	if ok || n2.Content != "one" {
		t.Fatalf("stale update applied: %+v", n2)
	}
}

func TestMediaWithoutMetadata(t *testing.T) {
	got := post.MediaFromProto([]*eventsv1.MediaRef{{MediaId: "m1", Type: eventsv1.MediaType_MEDIA_TYPE_IMAGE, Url: "https://x/m1"}})
	if len(got) != 1 || got[0].ID != "m1" || got[0].Type != "IMAGE" || got[0].DurationSeconds != nil {
		t.Fatalf("media without metadata: %+v", got)
	}
}
