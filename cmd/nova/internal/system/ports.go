package system

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/nova-social/nova/cmd/nova/internal/manifests"
	"github.com/nova-social/nova/cmd/nova/internal/portowner"
)

// How each fixed port is moved, for the answer to a clash.
const (
	movePortBase = "--port-base or NOVA_PORT_BASE (nova-api's port, the other functions take the next ones; 0 picks free ports)"
	moveKafka    = "--kafka-port or NOVA_KAFKA_PORT (0 picks a free port)"
	moveMetrics  = "--metrics-addr or NOVA_METRICS_ADDR"
	moveIngress  = "--ingress-addr or NOVA_INGRESS_ADDR"
	moveConsole  = "--console-addr or NOVA_CONSOLE_ADDR (off: no console)"
)

// BusyPort is an address the run needs that something else listens on.
type BusyPort struct {
	Addr string
	// Wanted is what would have listened there: a function's name, "the
	// embedded Kafka", ...
	Wanted string
	// Move says which flag or environment variable changes the address.
	Move string
	// Holders are the processes listening there, when they can be found.
	Holders []portowner.Process
	// Err is the bind error (syscall.EADDRINUSE for a port taken).
	Err error
}

// PortsInUseError is the answer to a run whose fixed ports are taken:
// every one of them at once, each with who holds it and how to move it.
type PortsInUseError struct{ Ports []BusyPort }

func (e *PortsInUseError) Error() string {
	var b strings.Builder
	if len(e.Ports) == 1 {
		b.WriteString("a port Nova needs is in use:")
	} else {
		fmt.Fprintf(&b, "%d ports Nova needs are in use:", len(e.Ports))
	}
	// Neighbouring ports held alike (the functions' ports taken by another
	// run) make one line.
	for i := 0; i < len(e.Ports); {
		j := i + 1
		for j < len(e.Ports) && sameClash(e.Ports[j-1], e.Ports[j]) {
			j++
		}
		p, run := e.Ports[i], e.Ports[i:j]
		addr, wanted := p.Addr, p.Wanted
		if len(run) > 1 {
			_, last, _ := net.SplitHostPort(run[len(run)-1].Addr)
			addr += "-" + last
			wanted = fmt.Sprintf("%s … %s", p.Wanted, run[len(run)-1].Wanted)
		}
		switch {
		case !errors.Is(p.Err, syscall.EADDRINUSE):
			fmt.Fprintf(&b, "\n  %s, wanted by %s, cannot be listened on: %v", addr, wanted, p.Err)
		case len(p.Holders) == 0:
			fmt.Fprintf(&b, "\n  %s, wanted by %s, held by an unknown process (another user's, or not found in /proc)", addr, wanted)
		default:
			hs := make([]string, len(p.Holders))
			for k, h := range p.Holders {
				hs[k] = h.String()
			}
			fmt.Fprintf(&b, "\n  %s, wanted by %s, held by %s", addr, wanted, strings.Join(hs, ", "))
		}
		// The way to move a port once per group of ports it moves.
		if j == len(e.Ports) || e.Ports[j].Move != p.Move {
			fmt.Fprintf(&b, "\n    change with %s", p.Move)
		}
		i = j
	}
	b.WriteString("\nstop what holds them (another nova run?) or give Nova other ports")
	return b.String()
}

// sameClash reports whether b is the port after a, moved by the same
// setting, taken the same way by the same processes.
func sameClash(a, b BusyPort) bool {
	ha, pa, errA := net.SplitHostPort(a.Addr)
	hb, pb, errB := net.SplitHostPort(b.Addr)
	na, _ := strconv.Atoi(pa)
	nb, _ := strconv.Atoi(pb)
	return errA == nil && errB == nil && ha == hb && nb == na+1 && a.Move == b.Move &&
		errors.Is(a.Err, syscall.EADDRINUSE) && errors.Is(b.Err, syscall.EADDRINUSE) &&
		slices.Equal(a.Holders, b.Holders)
}

// wantedPort is a fixed address the run will listen on.
type wantedPort struct {
	addr, wanted, move string
}

// wantedPorts lists the fixed addresses cfg asks for: the functions' ports
// from PortBase, the embedded Kafka's, the metrics, the console and, when
// the manifests hold Brokers, the ingress. Ports 0 are picked free and never clash.
func wantedPorts(cfg Config, m *manifests.Set) []wantedPort {
	var out []wantedPort
	if cfg.PortBase > 0 {
		for _, f := range cfg.Functions {
			out = append(out, wantedPort{net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.PortBase+f.Slot)), f.Name, movePortBase})
		}
	}
	if len(cfg.Kafka.Brokers) == 0 && cfg.Kafka.Port > 0 {
		for i := range max(cfg.Kafka.Nodes, 1) {
			what := "the embedded Kafka"
			if cfg.Kafka.Nodes > 1 {
				what = fmt.Sprintf("the embedded Kafka's node %d", i)
			}
			out = append(out, wantedPort{net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Kafka.Port+i)), what, moveKafka})
		}
	}
	if fixedPort(cfg.MetricsAddr) {
		out = append(out, wantedPort{cfg.MetricsAddr, "the dispatcher's metrics", moveMetrics})
	}
	if fixedPort(cfg.ConsoleAddr) {
		out = append(out, wantedPort{cfg.ConsoleAddr, "the console", moveConsole})
	}
	if m != nil && len(m.Brokers) > 0 && fixedPort(cfg.IngressAddr) {
		out = append(out, wantedPort{cfg.IngressAddr, "the Kafka Broker ingress", moveIngress})
	}
	return out
}

func fixedPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port != "0" && port != ""
}

// checkPorts binds each wanted address for a moment, before anything else
// starts, so a clash is answered once, naming every taken port, instead of
// by each listener failing in turn.
func checkPorts(ports []wantedPort) error {
	var busy []BusyPort
	for _, p := range ports {
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			_ = ln.Close()
			continue
		}
		bp := BusyPort{Addr: p.addr, Wanted: p.wanted, Move: p.move, Err: err}
		if errors.Is(err, syscall.EADDRINUSE) {
			if _, port, err := net.SplitHostPort(p.addr); err == nil {
				if n, err := strconv.Atoi(port); err == nil {
					bp.Holders = portowner.Listening(n)
				}
			}
		}
		busy = append(busy, bp)
	}
	if len(busy) > 0 {
		return &PortsInUseError{Ports: busy}
	}
	return nil
}
