package messaging

import "time"

// Service is the messaging domain. It is safe for concurrent use.
type Service struct {
	cfg Config
}

// New returns a Service; cfg gets its defaults first.
func New(cfg Config) (*Service, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg}, nil
}

// now is the service's clock at PostgreSQL's precision, so what an event
// carries equals what a later read returns.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
