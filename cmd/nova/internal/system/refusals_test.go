package system_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/portowner"
	"github.com/nova-social/nova/cmd/nova/internal/registry"
	"github.com/nova-social/nova/cmd/nova/internal/system"
)

// Pools the server could not grant stop the start before any function
// opens one, with the budget and the way to shrink it.
func TestBudgetOverTheServerLimitIsRefused(t *testing.T) {
	f := newFixture(t)
	f.cfg.DBPools = system.PoolSizes{system.APIName: 500}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := system.Start(ctx, f.cfg)
	if err == nil {
		stop(t, s)
		t.Fatal("started with a 500-connection pool")
	}
	for _, want := range []string{"may open up to 5", "nova-api 501", "max_connections", "more than the", "--db-pools or NOVA_DB_POOLS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("answer lacks %q:\n%v", want, err)
		}
	}
}

// Taken ports are found before anything starts and answered in one error:
// each address, what wanted it, who holds it (this test), how to move it.
func TestTakenPortsAnsweredOnce(t *testing.T) {
	hold := func() (*net.TCPListener, int) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln.(*net.TCPListener), ln.Addr().(*net.TCPAddr).Port
	}
	_, apiPort := hold()
	_, metricsPort := hold()
	for metricsPort >= apiPort && metricsPort <= apiPort+20 { // not among the functions' ports
		_, metricsPort = hold()
	}
	_, consolePort := hold()
	for consolePort >= apiPort && consolePort <= apiPort+20 {
		_, consolePort = hold()
	}
	f := newFixture(t)
	f.cfg.PortBase = apiPort
	f.cfg.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", metricsPort)
	f.cfg.ConsoleAddr = fmt.Sprintf("127.0.0.1:%d", consolePort)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := system.Start(ctx, f.cfg)
	if err == nil {
		stop(t, s)
		t.Fatal("started on taken ports")
	}
	var pe *system.PortsInUseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a *PortsInUseError", err)
	}
	found := map[string]system.BusyPort{}
	for _, p := range pe.Ports {
		found[p.Addr] = p
	}
	for addr, wanted := range map[string]string{
		fmt.Sprintf("127.0.0.1:%d", apiPort):     system.APIName,
		fmt.Sprintf("127.0.0.1:%d", metricsPort): "the dispatcher's metrics",
		fmt.Sprintf("127.0.0.1:%d", consolePort): "the console",
	} {
		p, ok := found[addr]
		if !ok {
			t.Errorf("%s (%s) not reported: %v", addr, wanted, err)
			continue
		}
		if p.Wanted != wanted || len(p.Holders) != 1 || p.Holders[0].PID != os.Getpid() {
			t.Errorf("%s: %+v, want %s held by pid %d", addr, p, wanted, os.Getpid())
		}
	}
	msg := err.Error()
	for _, want := range []string{
		fmt.Sprintf("127.0.0.1:%d, wanted by nova-api, held by pid %d", apiPort, os.Getpid()),
		"change with --port-base or NOVA_PORT_BASE",
		"change with --metrics-addr or NOVA_METRICS_ADDR",
		"change with --console-addr or NOVA_CONSOLE_ADDR",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("answer lacks %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "address already in use"); n > 0 {
		t.Errorf("the raw bind error is repeated %d times:\n%s", n, msg)
	}
}

// Another run holding every function's port is one line, not thirteen.
func TestNeighbouringPortsHeldAlikeMakeOneLine(t *testing.T) {
	var e system.PortsInUseError
	holder := []portowner.Process{{PID: 4242, Command: "nova"}}
	fns := registry.Functions()
	for _, f := range fns {
		e.Ports = append(e.Ports, system.BusyPort{Addr: fmt.Sprintf("127.0.0.1:%d", 8080+f.Slot), Wanted: f.Name,
			Move: "--port-base", Holders: holder, Err: syscall.EADDRINUSE})
	}
	msg := e.Error()
	want := fmt.Sprintf("127.0.0.1:8080-%d, wanted by nova-api … %s, held by pid 4242 (nova)\n    change with --port-base", 8080+len(fns)-1, fns[len(fns)-1].Name)
	if !strings.Contains(msg, want) || strings.Count(msg, "\n") != 3 {
		t.Errorf("answer:\n%s\nwant one line for the run:\n%s", msg, want)
	}
}
