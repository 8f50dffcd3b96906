// Package attach is the work of the media-attach function: what a
// MediaUploaded does on the content side.
//
//   - With a post_id, the media is attached to the post through
//     content.Attacher, which checks that the post is the uploader's and
//     writes the attachment and PostUpdated (the post's full media list) in
//     one transaction with the outbox.
//   - Without one, the media waits in the uploader's pending set
//     (pendingmedia, one hour from the upload) for their next post.
//
// Redelivery changes nothing: a media attaches to one post at most (the
// attachment row's key), so a second delivery writes and emits nothing, and
// adding a pending media twice is one entry. A pending media already
// attached (a redelivery after its post took it) is not pended again.
package attach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/domain/pendingmedia"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/event/delivery"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/id"
)

// Reactor applies media events.
type Reactor struct {
	attacher *content.Attacher
	pending  *pendingmedia.Store
	now      func() time.Time
	log      *slog.Logger
}

// NewReactor returns a Reactor; now nil means time.Now.
func NewReactor(a *content.Attacher, p *pendingmedia.Store, now func() time.Time, log *slog.Logger) (*Reactor, error) {
	if a == nil || p == nil {
		return nil, errors.New("attach: reactor needs an attacher and a pending store")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Reactor{attacher: a, pending: p, now: now, log: log}, nil
}

// Outcome says what an event did, for logs and tests.
type Outcome string

// Outcomes.
const (
	Attached        Outcome = "attached"
	AlreadyAttached Outcome = "already-attached"
	Pending         Outcome = "pending"
	PostGone        Outcome = "post-gone"
	Ignored         Outcome = "ignored"
)

// React applies one decoded event. Errors wrapped by delivery.Permanent
// can never succeed (dead-letter at once); others may on retry.
func (r *Reactor) React(ctx context.Context, d envelope.Decoded) (Outcome, error) {
	ev, ok := d.Message.(*eventsv1.MediaUploaded)
	if !ok {
		// Not this function's event (a source listing more topics): nothing to do.
		return Ignored, nil
	}
	owner, err := id.ParseUserID(ev.GetUserId())
	if err != nil {
		return "", delivery.Permanent(fmt.Errorf("MediaUploaded %s: user_id: %w", d.Event.ID(), err))
	}
	mid, err := id.ParseMediaID(ev.GetMediaId())
	if err != nil {
		return "", delivery.Permanent(fmt.Errorf("MediaUploaded %s: media_id: %w", d.Event.ID(), err))
	}
	md := ev.GetMetadata()
	if md == nil {
		// post.MediaFromProto reads the metadata's fields directly.
		md = &eventsv1.MediaMetadata{}
	}
	m := post.MediaFromProto([]*eventsv1.MediaRef{{
		MediaId: mid.String(), Type: ev.GetType(), Url: ev.GetUrl(), ThumbnailUrl: ev.GetThumbnailUrl(),
		Metadata: md,
	}})[0]

	if ev.GetPostId() != "" {
		pid, err := id.ParsePostID(ev.GetPostId())
		if err != nil {
			return "", delivery.Permanent(fmt.Errorf("MediaUploaded %s: post_id: %w", d.Event.ID(), err))
		}
		done, err := r.attacher.AttachMedia(ctx, owner, pid, m)
		switch {
		case errors.Is(err, content.ErrForbidden):
			return "", delivery.Permanent(fmt.Errorf("media %s of user %s cannot attach to post %s of another user: %w",
				mid, owner, pid, err))
		case errors.Is(err, content.ErrNotFound):
			// Deleted since the upload: nothing to attach to.
			r.log.InfoContext(ctx, "media not attached: post is gone", "media", mid, "post", pid)
			return PostGone, nil
		case err != nil:
			return "", err
		case !done:
			return AlreadyAttached, nil
		}
		return Attached, nil
	}

	if already, err := r.attacher.Attached(ctx, mid); err != nil {
		return "", err
	} else if already {
		return AlreadyAttached, nil
	}
	uploaded := ev.GetUploadedAt().AsTime()
	if ev.GetUploadedAt() == nil {
		uploaded = d.Event.Time()
	}
	if err := r.pending.Add(ctx, owner.String(), mid.String(), uploaded, r.now()); err != nil {
		return "", err
	}
	return Pending, nil
}
