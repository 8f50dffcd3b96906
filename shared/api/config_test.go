package api_test

import (
	"testing"

	"github.com/nova-social/nova/shared/api"
)

func TestConfigFrom(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://x/y", "REDIS_URL": "redis://x", "KAFKA_BROKERS": "a:9092, b:9092",
		"SMTP_ADDR": "smtp.example.com:587", "MAIL_FROM": "Nova <no-reply@example.com>"}
	c, err := api.ConfigFrom(base)
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP.TLS != "starttls" {
		t.Fatalf("SMTP without SMTP_TLS: %+v, want STARTTLS", c.SMTP)
	}
	if !c.Relay || c.DirectCall || len(c.KafkaBrokers) != 2 || c.KafkaBrokers[1] != "b:9092" {
		t.Fatalf("defaults: %+v", c)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	if c, err := api.ConfigFrom(with("ENABLE_DIRECT_CALL", "true")); err != nil || !c.DirectCall {
		t.Fatalf("ENABLE_DIRECT_CALL=true: %+v %v", c, err)
	}
	// The feed is read with the cap feed-fanout keeps it at.
	if c, err := api.ConfigFrom(with("FEED_CAP", "1500")); err != nil || c.Feed.Cap != 1500 {
		t.Fatalf("FEED_CAP=1500: %+v %v", c.Feed, err)
	}
	for k, v := range map[string]string{"ENABLE_DIRECT_CALL": "maybe", "DATABASE_URL": "", "NOVA_JWT_TTL": "48h", "KAFKA_BROKERS": "",
		"FEED_CAP": "abc", "FEED_CELEBRITY_THRESHOLD": "-1", "SMTP_ADDR": "", "MAIL_FROM": "", "NOVA_VERIFY_URL": "ftp://app"} {
		if _, err := api.ConfigFrom(with(k, v)); err == nil {
			t.Errorf("%s=%q accepted", k, v)
		}
	}
	if c, err := api.ConfigFrom(with("OUTBOX_RELAY", "false")); err != nil || c.Relay {
		t.Fatalf("OUTBOX_RELAY=false: %+v %v", c, err)
	}
}
