// Package limittest attacks the limits of a running HTTP server the way a
// hostile client would: request headers that trickle in byte by byte
// (slowloris) and headers too large to hold. The security tests of every
// Nova server share it, so each is held to the same attacks.
package limittest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Trickle is the outcome of a slowloris attempt.
type Trickle struct {
	// Sent and Total are the header bytes written before the server hung
	// up, and the bytes the whole request has.
	Sent, Total int
	// Answer is whatever the server wrote before closing (often nothing,
	// or a 408).
	Answer string
	// Closed is true when the server closed the connection before the
	// client had finished.
	Closed bool
}

// SlowHeaders sends a GET for path to addr with headers of about size
// bytes, one byte every interval, so the request would take size ×
// interval to arrive; it stops as soon as the server closes the
// connection, or when ctx ends. A server with a header timeout shorter
// than that closes it long before the client finishes.
func SlowHeaders(ctx context.Context, addr, path string, size int, interval time.Duration) (Trickle, error) {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: slowloris\r\n"
	for i := 0; len(req) < size; i++ {
		req += fmt.Sprintf("X-Slow-%d: %s\r\n", i, strings.Repeat("s", 40))
	}
	req += "\r\n"
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Trickle{}, err
	}
	defer c.Close()
	res := Trickle{Total: len(req)}
	closed := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c) // returns once the server closes
		closed <- string(b)
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for res.Sent < len(req) {
		select {
		case a := <-closed:
			res.Answer, res.Closed = a, true
			return res, nil
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
			if _, err := c.Write([]byte{req[res.Sent]}); err != nil {
				// The server is gone; the reader sees it too.
				res.Answer, res.Closed = <-closed, true
				return res, nil
			}
			res.Sent++
		}
	}
	return res, nil
}

// HugeHeader sends a GET for path to addr with one header of size bytes
// and returns the status of the answer. A server bounding its headers
// answers 431 without running any handler.
func HugeHeader(ctx context.Context, addr, path string, size int) (int, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	go func() {
		// Written concurrently: the server may answer and close before
		// reading it all.
		_, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\nX-Huge: "+strings.Repeat("h", size)+"\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, fmt.Errorf("limittest: no answer to a %d-byte header: %w", size, err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// ErrNotClosed says a server let a slowloris request finish.
var ErrNotClosed = errors.New("the server waited for headers sent over a time far beyond any header timeout")

// Check runs SlowHeaders and returns ErrNotClosed unless the server hung
// up before the client finished.
func Check(ctx context.Context, addr, path string, size int, interval time.Duration) (Trickle, error) {
	res, err := SlowHeaders(ctx, addr, path, size, interval)
	if err != nil {
		return res, err
	}
	if !res.Closed || res.Sent >= res.Total {
		return res, fmt.Errorf("%w (%d of %d bytes sent)", ErrNotClosed, res.Sent, res.Total)
	}
	return res, nil
}
