package content

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/id"
)

// NewPost is what an author submits.
type NewPost struct {
	Content string
	// Type defaults to TEXT.
	Type post.Type
	// Visibility defaults to PUBLIC.
	Visibility post.Visibility
	Tags       []string
	// MediaIDs names the author's uploads to attach. nil takes the
	// author's pending uploads (if any); an empty list attaches none.
	MediaIDs []id.MediaID
}

// Change is an edit by the author; nil fields stay as they are. Tags, when
// set, replace the whole list (an empty list clears it).
type Change struct {
	Content    *string
	Tags       *[]string
	Visibility *post.Visibility
}

// checkText validates a post's or a comment's text. Text posts need words;
// media posts may come without a caption.
func (s *Service) checkText(field, text string, required bool) error {
	if required && strings.TrimSpace(text) == "" {
		return invalid(field, "%s is required", field)
	}
	if !utf8.ValidString(text) {
		return invalid(field, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(text); n > s.cfg.MaxContentRunes {
		return invalid(field, "%s has %d characters, at most %d are allowed", field, n, s.cfg.MaxContentRunes)
	}
	// PostgreSQL text cannot hold NUL, and other control characters are
	// never meant; line breaks and tabs are.
	if strings.IndexFunc(text, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	}) >= 0 {
		return invalid(field, "%s contains control characters", field)
	}
	return nil
}

// normTags validates tags and returns them trimmed, without a leading '#',
// duplicates dropped (first spelling kept), never nil.
func (s *Service) normTags(tags []string) ([]string, error) {
	if len(tags) > s.cfg.MaxTags {
		return nil, invalid("tags", "%d tags given, at most %d are allowed", len(tags), s.cfg.MaxTags)
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimPrefix(strings.TrimSpace(t), "#")
		switch {
		case t == "":
			return nil, invalid("tags", "a tag is empty")
		case !utf8.ValidString(t):
			return nil, invalid("tags", "a tag is not valid UTF-8")
		case utf8.RuneCountInString(t) > s.cfg.MaxTagRunes:
			return nil, invalid("tags", "a tag has more than %d characters", s.cfg.MaxTagRunes)
		case strings.IndexFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return nil, invalid("tags", "tag %q contains spaces or control characters", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func checkType(t post.Type) (post.Type, error) {
	if t == "" {
		return post.Text, nil
	}
	p, err := post.ParseType(string(t))
	if err != nil {
		return "", invalid("type", "%s", err.Error())
	}
	return p, nil
}

func checkVisibility(v post.Visibility) (post.Visibility, error) {
	if v == "" {
		return post.Public, nil
	}
	p, err := post.ParseVisibility(string(v))
	if err != nil {
		return "", invalid("visibility", "%s", err.Error())
	}
	return p, nil
}
