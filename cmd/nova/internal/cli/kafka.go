package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
	"github.com/nova-social/nova/shared/event/kafka"
)

// kafkaCmd is `nova kafka`: the broker `nova run` embeds, on its own, with
// the catalogue's topics. With -control it is a test harness's Kafka: it
// reads fault commands from standard input (see control) and stops when
// its input closes, so it never outlives the process that started it.
func kafkaCmd(ctx context.Context, args []string, st Streams) error {
	fs := newFlags("kafka", "[flags]", st)
	var (
		cfg        broker.Config
		controlled bool
		logLevel   slog.Level
	)
	fs.IntVar(&cfg.Port, "port", broker.DefaultPort, "port on 127.0.0.1 of the first node; the others take the next ones (0: free ports) [NOVA_KAFKA_PORT]")
	fs.IntVar(&cfg.Nodes, "nodes", 1, "brokers in the cluster, among which partition leaders and group coordinators are spread [NOVA_KAFKA_NODES]")
	fs.StringVar(&cfg.DataDir, "data-dir", broker.DefaultDataDir, "data folder; empty keeps everything in memory [NOVA_DATA_DIR]")
	fs.BoolVar(&controlled, "control", false, "take fault commands on standard input and stop when it closes (for tests)")
	fs.TextVar(&logLevel, "log-level", slog.LevelWarn, "debug, info, warn or error [NOVA_LOG_LEVEL]")
	auth := authFlags(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return badUsage(st, "kafka", fmt.Errorf("unexpected arguments %q", pos))
	}
	var err error
	if cfg.Auth, cfg.Security, err = auth(); err != nil {
		return badUsage(st, "kafka", err)
	}
	cfg.InMemory = cfg.DataDir == ""
	cfg.Logger = slog.New(slog.NewTextHandler(st.Err, &slog.HandlerOptions{Level: logLevel}))
	if !cfg.InMemory {
		lock, err := broker.LockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		defer lock.Close()
	}
	b, err := broker.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(st.Out, "listening on %s\n", strings.Join(b.Addrs(), ","))
	if !controlled {
		<-ctx.Done()
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- control(b, st.In, st.Out) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-done:
		return err
	}
}

// control answers fault commands, one per line, each with "ok" (and a
// value) or "error: reason", until in ends:
//
//	create-topic NAME PARTITIONS
//	refuse-writes [TOPIC...]   refuse produce to these topics (none: stop refusing)
//	drop-produce on|off        drop every produce request's connection
//	dropped                    "ok N": produce requests dropped so far
//	move-leaders               elect new partition leaders, move group coordinators
func control(b *broker.Broker, in io.Reader, out io.Writer) error {
	f := b.Faults()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		var reply string
		switch cmd, args := fields[0], fields[1:]; {
		case cmd == "create-topic" && len(args) == 2:
			reply = "ok"
			n, err := strconv.ParseInt(args[1], 10, 32)
			if err == nil {
				err = b.CreateTopic(args[0], int32(n))
			}
			if err != nil {
				reply = "error: " + err.Error()
			}
		case cmd == "refuse-writes":
			f.RefuseWrites(args...)
			reply = "ok"
		case cmd == "drop-produce" && len(args) == 1 && (args[0] == "on" || args[0] == "off"):
			f.DropProduce(args[0] == "on")
			reply = "ok"
		case cmd == "move-leaders" && len(args) == 0:
			f.MoveLeaders()
			reply = "ok"
		case cmd == "dropped" && len(args) == 0:
			reply = fmt.Sprintf("ok %d", f.Dropped())
		default:
			reply = fmt.Sprintf("error: unknown command %q", sc.Text())
		}
		if _, err := fmt.Fprintln(out, reply); err != nil {
			return fmt.Errorf("control: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	return nil
}

// authFlags are `nova kafka`'s flags for a broker that demands what a
// cluster would: SCRAM-SHA-512 logins, ACLs, TLS (and client
// certificates). The returned func builds the broker's Auth and the
// Security its own topic set-up connects with.
func authFlags(fs *flag.FlagSet) func() (*broker.Auth, kafka.Security, error) {
	var (
		superuser, cert, key, clientCA, ca string
		acls                               bool
		users, aclList                     stringList
	)
	fs.StringVar(&superuser, "superuser", "", "NAME:PASSWORD: demand SCRAM-SHA-512 logins; this user passes every ACL")
	fs.Var(&users, "user", "NAME:PASSWORD: a SCRAM-SHA-512 user (repeatable; needs -superuser)")
	fs.BoolVar(&acls, "acls", false, "enforce ACLs (needs -superuser)")
	fs.Var(&aclList, "acl", "USER:OPERATION:TYPE:NAME, e.g. app:Write:topic:content-events (NAME ending in * a prefix; repeatable)")
	fs.StringVar(&cert, "tls-cert", "", "PEM certificate file: listen with TLS")
	fs.StringVar(&key, "tls-key", "", "PEM key file of -tls-cert")
	fs.StringVar(&ca, "tls-ca", "", "PEM file of the CA -tls-cert chains to, for the broker's own client")
	fs.StringVar(&clientCA, "tls-client-ca", "", "PEM CA file: demand client certificates signed by it (mTLS)")
	return func() (*broker.Auth, kafka.Security, error) {
		var sec kafka.Security
		if (cert == "") != (key == "") {
			return nil, sec, errors.New("-tls-cert and -tls-key go together")
		}
		if superuser == "" && (len(users) > 0 || acls || len(aclList) > 0) {
			return nil, sec, errors.New("-user, -acls and -acl need -superuser")
		}
		if cert == "" && superuser == "" {
			return nil, sec, nil
		}
		a := &broker.Auth{ACLs: acls}
		if cert != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, sec, fmt.Errorf("-tls-cert/-tls-key: %w", err)
			}
			a.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
			sec.TLS, sec.CAFile = true, ca
			if clientCA != "" {
				pem, err := os.ReadFile(clientCA)
				if err != nil {
					return nil, sec, fmt.Errorf("-tls-client-ca: %w", err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return nil, sec, fmt.Errorf("-tls-client-ca %s holds no certificate", clientCA)
				}
				a.TLS.ClientCAs, a.TLS.ClientAuth = pool, tls.RequireAndVerifyClientCert
				// The broker's own client (the topic set-up) presents the
				// broker's certificate, as Kafka's inter-broker listener does.
				sec.CertFile, sec.KeyFile = cert, key
			}
		}
		if superuser == "" {
			return a, sec, nil // TLS without logins
		}
		var ok bool
		if a.Superuser.Name, a.Superuser.Password, ok = strings.Cut(superuser, ":"); !ok {
			return nil, sec, errors.New("-superuser: want NAME:PASSWORD")
		}
		byName := map[string]int{}
		for _, u := range users {
			name, pass, ok := strings.Cut(u, ":")
			if !ok {
				return nil, sec, fmt.Errorf("-user %q: want NAME:PASSWORD", u)
			}
			byName[name] = len(a.Users)
			a.Users = append(a.Users, broker.User{Name: name, Password: pass})
		}
		for _, s := range aclList {
			name, rest, _ := strings.Cut(s, ":")
			i, ok := byName[name]
			if !ok {
				return nil, sec, fmt.Errorf("-acl %q: no -user %s", s, name)
			}
			acl, err := broker.ParseACL(rest)
			if err != nil {
				return nil, sec, fmt.Errorf("-acl: %w", err)
			}
			a.Users[i].ACLs = append(a.Users[i].ACLs, acl)
		}
		return a, sec, nil
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}
