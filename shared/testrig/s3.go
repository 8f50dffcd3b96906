package testrig

import (
	"testing"
)

// S3Server is an S3-protocol server of a test's own, in memory, with one
// bucket: `nova s3`, the server `nova deploy-check` gives the functions,
// run as a child process.
type S3Server struct{ c *child }

// S3 starts an S3 server holding an empty bucket, stopped when the test
// ends.
func S3(t testing.TB, bucket string) *S3Server {
	t.Helper()
	return &S3Server{startChild(t, "s3", "-port", "0", "-bucket", bucket)}
}

// Addr is the server's host:port (plain HTTP).
func (s *S3Server) Addr() string { return s.c.addrs[0] }
