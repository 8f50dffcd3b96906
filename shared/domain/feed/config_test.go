package feed_test

import (
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/domain/feed"
)

func TestConfigFromEnv(t *testing.T) {
	c, err := feed.ConfigFromEnv(map[string]string{})
	if err != nil || c != feed.DefaultConfig() {
		t.Fatalf("empty environment: %+v, %v; want the defaults", c, err)
	}
	c, err = feed.ConfigFromEnv(map[string]string{"FEED_CAP": "1200", "FEED_CELEBRITY_THRESHOLD": "50000",
		"FEED_BATCH_SIZE": "500", "FEED_BACKFILL_LIMIT": "20"})
	if err != nil || c.Cap != 1200 || c.CelebrityThreshold != 50000 || c.BatchSize != 500 || c.BackfillLimit != 20 {
		t.Fatalf("set: %+v, %v", c, err)
	}
	// Every malformed value is named, not just the first.
	_, err = feed.ConfigFromEnv(map[string]string{"FEED_CAP": "abc", "FEED_CELEBRITY_THRESHOLD": "1e4"})
	if err == nil || !strings.Contains(err.Error(), `FEED_CAP="abc"`) || !strings.Contains(err.Error(), `FEED_CELEBRITY_THRESHOLD="1e4"`) {
		t.Fatalf("malformed: %v", err)
	}
	if _, err := feed.ConfigFromEnv(map[string]string{"FEED_CAP": "5000000000"}); err == nil {
		t.Fatal("a cap beyond 32 bits was taken")
	}
	if _, err := feed.ConfigFromEnv(map[string]string{"FEED_CAP": "50"}); err == nil || !strings.Contains(err.Error(), "BackfillLimit 100 exceeds Cap 50") {
		t.Fatalf("cap below the back-fill limit: %v", err)
	}
}
