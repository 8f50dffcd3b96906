package deploycheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/nova-social/nova/cmd/nova/internal/system"
)

const startPostgres = "pg_ctlcluster --skip-systemctl-redirect 15 main start"

// database is a fresh PostgreSQL database of the check's own.
type database struct {
	admin, name, url string
}

// createDatabase makes nova_deploycheck_<random> on the server of admin.
func createDatabase(ctx context.Context, admin string) (*database, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL is not reachable at %s (%w); start it with: %s", admin, err, startPostgres)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	d := &database{admin: admin, name: "nova_deploycheck_" + hex.EncodeToString(b)}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{d.name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", d.name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", admin, err)
	}
	u.Path = "/" + d.name
	d.url = u.String()
	return d, nil
}

// drop removes the database, whoever is still connected.
func (d *database) drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	return nil
}

// pingRedis fails, saying how to start Redis, when it does not answer.
func pingRedis(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return system.PingRedis(ctx, url)
}

// objectStore is an S3-protocol server on 127.0.0.1, in memory, holding one
// bucket: what the cluster's S3 (or MinIO) is to nova-api.
type objectStore struct {
	srv    *httptest.Server
	bucket string
}

func startObjectStore(bucket string) (*objectStore, error) {
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		return nil, fmt.Errorf("local S3: bucket %s: %w", bucket, err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	return &objectStore{srv: srv, bucket: bucket}, nil
}

// endpoint is host:port, as S3_ENDPOINT takes it.
func (o *objectStore) endpoint() string { return strings.TrimPrefix(o.srv.URL, "http://") }

func (o *objectStore) close() { o.srv.Close() }
