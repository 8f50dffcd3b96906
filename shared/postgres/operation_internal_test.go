package postgres

import "testing"

func TestOperation(t *testing.T) {
	for _, c := range []struct{ sql, want string }{
		{"SELECT 1", "SELECT"},
		{"select id from posts where id = $1", "SELECT"},
		{"  \n\tINSERT INTO t (v) VALUES ($1)", "INSERT"},
		{"UPDATE\n\tposts SET n = n + 1", "UPDATE"},
		{"DELETE\tFROM nova_outbox WHERE id = ANY($1)", "DELETE"},
		{"WITH x AS (SELECT 1) SELECT * FROM x", "WITH"},
		{"\nSELECT c.lane FROM (\n\tSELECT 1\n) c", "SELECT"},
		{"-- ping", "query"},
		{"-- the relay's lanes\nSELECT 1", "SELECT"},
		{"-- first\n  -- second\n\n\tupdate t set v = 1", "UPDATE"},
		{"--no space\nBEGIN", "BEGIN"},
		{"begin", "BEGIN"},
		{"commit", "COMMIT"},
		{"", "query"},
		{"   \n\t ", "query"},
		{"-- only a comment\n", "query"},
		{"SELECT\r\n1", "SELECT"},
	} {
		if got := operation(c.sql); got != c.want {
			t.Errorf("operation(%q) = %q, want %q", c.sql, got, c.want)
		}
	}
}
