// Package objectstore is a local S3-protocol server, in memory: what the
// cluster's S3 (or MinIO) is to nova-api, for `nova deploy-check` and for
// tests (`nova s3`).
package objectstore

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server serves one bucket over plain HTTP.
type Server struct {
	ln     net.Listener
	srv    *http.Server
	bucket string
	done   chan struct{}
}

// Start serves an empty bucket at addr ("127.0.0.1:0" for a free port).
func Start(addr, bucket string) (*Server, error) {
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		return nil, fmt.Errorf("objectstore: bucket %s: %w", bucket, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("objectstore: listen on %s: %w", addr, err)
	}
	s := &Server{
		ln:     ln,
		srv:    &http.Server{Handler: gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server(), ReadHeaderTimeout: 10 * time.Second},
		bucket: bucket,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		// Serve returns once Close has closed the listener.
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Endpoint is host:port, as S3_ENDPOINT takes it.
func (s *Server) Endpoint() string { return s.ln.Addr().String() }

// Bucket is the bucket the server holds.
func (s *Server) Bucket() string { return s.bucket }

// Close stops the server and waits until it has.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.done
}
