package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/nova-social/nova/shared/event/kafka"
)

// Auth is what the embedded broker demands of its clients, as a Strimzi
// cluster with scram-sha-512 listeners and simple authorization does.
type Auth struct {
	// Superuser, when named, makes the broker demand SCRAM-SHA-512 logins;
	// it passes every ACL: Nova's own tools and the topic set-up use it.
	Superuser User
	// Users log in with SCRAM-SHA-512 and may do what their ACLs allow.
	Users []User
	// ACLs enforces the users' ACLs; without it a logged-in user may do
	// anything.
	ACLs bool
	// TLS, when set, is the listener's TLS (with ClientAuth for mTLS).
	TLS *tls.Config
}

// User is a SCRAM-SHA-512 user of the embedded broker.
type User struct {
	Name, Password string
	ACLs           []ACL
}

// ACL allows one operation on one resource, in Strimzi's words: a
// KafkaUser's spec.authorization.acls entry.
type ACL struct {
	// Type is topic, group, cluster or transactionalId.
	Type string
	// Name is the resource's name ("*" for every one); ignored for cluster.
	Name string
	// Prefixed matches every resource whose name starts with Name.
	Prefixed bool
	// Operation is Read, Write, Describe, IdempotentWrite, All, ...
	Operation string
}

func (a ACL) String() string {
	pat := ""
	if a.Prefixed {
		pat = "*"
	}
	return fmt.Sprintf("%s %s:%s%s", a.Operation, a.Type, a.Name, pat)
}

// ParseACL reads an ACL written as OPERATION:TYPE:NAME, NAME ending in *
// for a prefix, as `nova kafka -acl` takes it.
func ParseACL(s string) (ACL, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 {
		return ACL{}, fmt.Errorf("ACL %q: want OPERATION:TYPE:NAME", s)
	}
	a := ACL{Operation: parts[0], Type: parts[1], Name: parts[2]}
	if strings.HasSuffix(a.Name, "*") && a.Name != "*" {
		a.Name, a.Prefixed = strings.TrimSuffix(a.Name, "*"), true
	}
	_, err := a.builder("User:x")
	return a, err
}

// builder is the ACL allowing principal a's operation.
func (a ACL) builder(principal string) (*kadm.ACLBuilder, error) {
	op, err := kmsg.ParseACLOperation(strings.ToLower(a.Operation))
	if err != nil || op == kmsg.ACLOperationUnknown || op == kmsg.ACLOperationAny {
		return nil, fmt.Errorf("ACL %s: unknown operation %q", a, a.Operation)
	}
	b := kadm.NewACLs().Allow(principal).AllowHosts("*").Operations(op)
	switch strings.ToLower(a.Type) {
	case "topic":
		b = b.Topics(a.Name)
	case "group":
		b = b.Groups(a.Name)
	case "cluster":
		b = b.Clusters()
	case "transactionalid":
		b = b.TransactionalIDs(a.Name)
	default:
		return nil, fmt.Errorf("ACL %s: unknown resource type %q", a, a.Type)
	}
	if a.Name == "" && strings.ToLower(a.Type) != "cluster" {
		return nil, fmt.Errorf("ACL %s: no resource name", a)
	}
	pat := kadm.ACLPatternLiteral
	if a.Prefixed {
		pat = kadm.ACLPatternPrefixed
	}
	return b.ResourcePatternType(pat), nil
}

// Validate reports users the broker cannot hold.
func (a *Auth) Validate() error {
	if a == nil {
		return nil
	}
	var errs []error
	if a.Superuser.Name == "" {
		if len(a.Users) > 0 || a.ACLs {
			return errors.New("broker: users and ACLs need a superuser")
		}
		return nil
	}
	seen := map[string]bool{}
	for _, u := range append([]User{a.Superuser}, a.Users...) {
		switch {
		case u.Name == "" || u.Password == "":
			errs = append(errs, fmt.Errorf("broker: user %q needs a name and a password", u.Name))
		case seen[u.Name]:
			errs = append(errs, fmt.Errorf("broker: user %q twice", u.Name))
		}
		seen[u.Name] = true
		for _, acl := range u.ACLs {
			if _, err := acl.builder("User:" + u.Name); err != nil {
				errs = append(errs, fmt.Errorf("broker: user %s: %w", u.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// opts are the kfake options for a.
func (a *Auth) opts(dataDir string) ([]kfake.Opt, error) {
	if a == nil {
		return nil, nil
	}
	var opts []kfake.Opt
	if a.TLS != nil {
		opts = append(opts, kfake.TLS(a.TLS))
	}
	if a.Superuser.Name == "" {
		return opts, nil
	}
	// kfake reloads the users of its data folder over the ones it is given;
	// the users of this run (fresh passwords each time) must win.
	if dataDir != "" {
		if err := os.Remove(filepath.Join(dataDir, "sasl.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("broker: forget the last run's users: %w", err)
		}
	}
	opts = append(opts, kfake.EnableSASL(), kfake.Superuser(string(kafka.ScramSHA512), a.Superuser.Name, a.Superuser.Password))
	for _, u := range a.Users {
		opts = append(opts, kfake.User(string(kafka.ScramSHA512), u.Name, u.Password))
	}
	if a.ACLs {
		opts = append(opts, kfake.EnableACLs())
	}
	return opts, nil
}

// applyACLs makes the cluster's ACLs exactly the users': a data folder's
// ACLs of an earlier run are deleted first, so a manifest that drops a
// right drops it here too.
func (a *Auth) applyACLs(ctx context.Context, brokers []string, sec kafka.Security) error {
	if a == nil || !a.ACLs {
		return nil
	}
	cl, err := NewClient(brokers, sec)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	all := kadm.NewACLs().AnyResource().Allow().Deny().AllowHosts().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	res, err := adm.DeleteACLs(ctx, all)
	if err != nil {
		return fmt.Errorf("broker: delete old ACLs: %w", err)
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("broker: delete old ACLs: %w", r.Err)
		}
	}
	for _, u := range a.Users {
		for _, acl := range u.ACLs {
			b, err := acl.builder("User:" + u.Name)
			if err != nil {
				return err
			}
			res, err := adm.CreateACLs(ctx, b)
			if err != nil {
				return fmt.Errorf("broker: ACL %s for %s: %w", acl, u.Name, err)
			}
			for _, r := range res {
				if r.Err != nil {
					return fmt.Errorf("broker: ACL %s for %s: %w %s", acl, u.Name, r.Err, r.ErrMessage)
				}
			}
		}
	}
	return nil
}

// ClientOpts are the franz-go options that connect as sec says: Nova's
// tools (tail, lag, the topic set-up) speak kgo, its functions Sarama, and
// both read the same kafka.Security.
func ClientOpts(sec kafka.Security) ([]kgo.Opt, error) {
	if err := sec.Validate(); err != nil {
		return nil, err
	}
	var opts []kgo.Opt
	tc, err := sec.TLSConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch sec.SASL {
	case kafka.ScramSHA512:
		opts = append(opts, kgo.SASL(scram.Auth{User: sec.Username, Pass: sec.Password}.AsSha512Mechanism()))
	case kafka.ScramSHA256:
		opts = append(opts, kgo.SASL(scram.Auth{User: sec.Username, Pass: sec.Password}.AsSha256Mechanism()))
	case kafka.Plain:
		opts = append(opts, kgo.SASL(plain.Auth{User: sec.Username, Pass: sec.Password}.AsMechanism()))
	case kafka.NoSASL:
	}
	return opts, nil
}

// NewClient is a franz-go client of brokers logged in as sec says.
func NewClient(brokers []string, sec kafka.Security, more ...kgo.Opt) (*kgo.Client, error) {
	opts, err := ClientOpts(sec)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...), more...)...)
	if err != nil {
		return nil, fmt.Errorf("broker: client for %s: %w", strings.Join(brokers, ","), err)
	}
	return cl, nil
}
