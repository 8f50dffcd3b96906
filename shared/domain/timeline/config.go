package timeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nova-social/nova/shared/domain/feed"
	"github.com/nova-social/nova/shared/domain/media/mediaurl"
	"github.com/nova-social/nova/shared/domain/post"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// Content hydrates posts for a viewer straight from the content service;
// *content.Service implements it.
type Content interface {
	Summaries(ctx context.Context, viewer id.UserID, ids []string) (map[string]post.Summary, error)
}

// maxStoreLimit is the largest page feed.Store.Read serves.
const maxStoreLimit = 200

// Config holds the feed reader's dependencies.
type Config struct {
	// Store is the feed store. Required.
	Store *feed.Store
	// DirectCall hydrates from Content instead of the feed's post cache.
	DirectCall bool
	// Content is required when DirectCall is set.
	Content Content
	Logger  *slog.Logger
	// MediaURLs signs the media URLs of posts that are not public; nil
	// shows them as stored.
	MediaURLs *mediaurl.Signer
	// Page bounds ?limit= (default 20, at most 100).
	Page httpapi.PageConfig
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	c.Page = c.Page.Defaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a configuration the reader cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("feed store is nil"))
	}
	if c.DirectCall && c.Content == nil {
		errs = append(errs, errors.New("direct call is on but no content service is given"))
	}
	if err := c.Page.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Page.MaxLimit > maxStoreLimit {
		errs = append(errs, fmt.Errorf("max limit %d above the feed store's %d", c.Page.MaxLimit, maxStoreLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("timeline config: %w", err)
	}
	return nil
}
