package system

import (
	"context"

	"github.com/nova-social/nova/cmd/nova/internal/console"
	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/shared/event/kafka"
)

// startConsole serves the console on ConsoleAddr, when set: the manifests
// the run runs, the dispatcher's registry read in process, Kafka with the
// run's own login (asked each time: RestartKafka replaces the broker) and
// the run's database.
func (s *System) startConsole(ctx context.Context) error {
	if s.cfg.ConsoleAddr == "" {
		return nil
	}
	var fns []instance.Function
	for _, h := range s.functions {
		fns = append(fns, instance.Function{Name: h.name, URL: h.url()})
	}
	c, err := console.New(ctx, console.Config{
		Addr: s.cfg.ConsoleAddr, TraceURL: s.cfg.ConsoleTraceURL, TraceAPI: s.cfg.ConsoleTraceAPI,
		Manifests: s.manifests, Metrics: s.registry,
		Kafka:       func() ([]string, kafka.Security) { return s.Brokers(), s.KafkaSecurity() },
		DatabaseURL: s.cfg.DatabaseURL, Functions: fns, Logger: s.log,
	})
	if err != nil {
		return err
	}
	s.console = c
	go func() {
		if err := c.Serve(); err != nil {
			s.fail(err)
		}
	}()
	return nil
}

// ConsoleURL is where the console answers; "" when the run serves none.
func (s *System) ConsoleURL() string {
	if s.console == nil {
		return ""
	}
	return s.console.URL()
}
