package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/nova-social/nova/cmd/nova/internal/objectstore"
)

// s3Cmd is `nova s3`: an S3-protocol server in memory holding one empty
// bucket, what `nova deploy-check` gives nova-api. With -control it stops
// when its standard input closes (for tests).
func s3Cmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("s3", "[flags]", st)
	var (
		port       int
		bucket     string
		controlled bool
	)
	fs.IntVar(&port, "port", 9000, "port on 127.0.0.1 (0: a free port)")
	fs.StringVar(&bucket, "bucket", "nova-media", "the bucket it holds [S3_BUCKET]")
	fs.BoolVar(&controlled, "control", false, "stop when standard input closes (for tests)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return badUsage(st, "s3", fmt.Errorf("unexpected arguments %q", pos))
	}
	s, err := objectstore.Start(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bucket)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(st.Out, "listening on %s\n", s.Endpoint())
	if !controlled {
		<-ctx.Done()
		return nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, st.In)
		done <- err
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-done:
		return err
	}
}
