// Package mail sends Nova's own mail: the messages that prove a person
// holds an address (registration) and the notices sent to it.
//
// A message is queued in PostgreSQL in the transaction of the change that
// calls for it (Queue.Enqueue) and delivered by Queue.Run over SMTP
// (SMTP), so a message is sent if and only if its change committed, and
// an unreachable mail server delays mail instead of losing it or failing
// the request. The sink package is a local SMTP server that stands in for
// the mail relay on one machine.
package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Message is one plain-text mail to one recipient.
type Message struct {
	To      string
	Subject string
	// Text is the body, UTF-8 plain text. It goes out ending in a line
	// break (SMTP ends every message with one), added if it lacks it.
	Text string
}

// Validate reports a message that cannot be sent.
func (m Message) Validate() error {
	var errs []error
	if _, err := mail.ParseAddress(m.To); err != nil {
		errs = append(errs, fmt.Errorf("recipient %q: %w", m.To, err))
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		errs = append(errs, errors.New("subject holds a line break"))
	}
	if m.Subject == "" {
		errs = append(errs, errors.New("no subject"))
	}
	return errors.Join(errs...)
}

// Sender delivers a message or says why it could not. *SMTP is one.
type Sender interface {
	Send(ctx context.Context, from string, m Message) error
}

// Compose renders m as an RFC 5322 message from from, dated at, with a
// quoted-printable UTF-8 body (every line under the 998-byte limit
// whatever the text) and msgID as its Message-ID.
func Compose(from string, m Message, at time.Time, msgID string) []byte {
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from)
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", at.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+msgID+">")
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	// Auto-Submitted keeps vacation responders from answering.
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	w := quotedprintable.NewWriter(&b)
	text := m.Text
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	_, _ = w.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	_ = w.Close()
	return b.Bytes()
}

// Parse reads a message Compose (or any plain-text mailer) wrote back into
// a Message: recipient, decoded subject and decoded body.
func Parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, fmt.Errorf("mail: %w", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Message{}, fmt.Errorf("mail: subject: %w", err)
	}
	var body bytes.Buffer
	r := msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	if _, err := body.ReadFrom(r); err != nil {
		return Message{}, fmt.Errorf("mail: body: %w", err)
	}
	return Message{
		To:      msg.Header.Get("To"),
		Subject: subject,
		Text:    strings.ReplaceAll(body.String(), "\r\n", "\n"),
	}, nil
}
