package testrig

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// PostgresTraces lists, as "table: row", every row of every table in the
// database's public schema whose text form holds one of needles (a user's
// id, name, e-mail). It reads the tables as the catalogue lists them, so
// a table added later is looked in without anyone naming it.
func PostgresTraces(ctx context.Context, pool *pgxpool.Pool, needles ...string) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		return nil, fmt.Errorf("testrig: list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("testrig: list tables: %w", err)
	}
	var found []string
	for _, table := range tables {
		q := `SELECT t::text FROM ` + pgx.Identifier{table}.Sanitize() + ` t WHERE strpos(lower(t::text), lower($1)) > 0`
		for _, n := range needles {
			rows, err := pool.Query(ctx, q, n)
			if err != nil {
				return nil, fmt.Errorf("testrig: read %s: %w", table, err)
			}
			hits, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return nil, fmt.Errorf("testrig: read %s: %w", table, err)
			}
			for _, h := range hits {
				found = append(found, table+": "+h)
			}
		}
	}
	return found, nil
}

// RedisTraces lists every key of rdb (a client that may read every key:
// the administrator's) whose name or value holds one of needles, with
// what it holds.
func RedisTraces(ctx context.Context, rdb *redis.Client, needles ...string) ([]string, error) {
	var found []string
	iter := rdb.Scan(ctx, 0, "", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		val, err := redisValue(ctx, rdb, key)
		if err != nil {
			return nil, err
		}
		for _, n := range needles {
			if strings.Contains(key, n) || strings.Contains(val, n) {
				found = append(found, key+" = "+val)
				break
			}
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("testrig: scan keys: %w", err)
	}
	return found, nil
}

// redisValue renders a key's value whatever its type; a key gone since
// the scan renders empty.
func redisValue(ctx context.Context, rdb *redis.Client, key string) (string, error) {
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		return "", fmt.Errorf("testrig: type of %s: %w", key, err)
	}
	var v any
	switch typ {
	case "string":
		v, err = rdb.Get(ctx, key).Result()
	case "hash":
		v, err = rdb.HGetAll(ctx, key).Result()
	case "set":
		v, err = rdb.SMembers(ctx, key).Result()
	case "zset":
		v, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
	case "list":
		v, err = rdb.LRange(ctx, key, 0, -1).Result()
	case "none":
		return "", nil
	default:
		return "(" + typ + ")", nil
	}
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("testrig: read %s: %w", key, err)
	}
	return fmt.Sprint(v), nil
}

// FileTraces lists the files under dir whose path holds one of needles.
func FileTraces(dir string, needles ...string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, n := range needles {
			if strings.Contains(path, n) {
				found = append(found, path)
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("testrig: walk %s: %w", dir, err)
	}
	return found, nil
}
