package console

import (
	"net/url"
	"strings"
)

// redact takes this run's secrets out of a message shown on a page: an
// error from Kafka or PostgreSQL may quote the login it used.
func (c *Console) redact(msg string) string {
	_, sec := c.cfg.Kafka()
	secrets := []string{sec.Password, sec.Username}
	if u, err := url.Parse(c.cfg.DatabaseURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
	}
	for _, s := range secrets {
		// Short values would blank out ordinary words.
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}
