package deadletters

import (
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/nova-social/nova/cmd/nova/internal/instance"
	"github.com/nova-social/nova/functions/dead-letter/store"
)

// Names are the functions of a running nova run by the address (host and
// port) each listens on, from its .nova/env (instance.FunctionURLs): under
// nova run a dead letter's knativeerrordest is such an address. Nil knows
// none.
type Names map[string]string

// NamesOf reads a value of instance.FunctionURLs.
func NamesOf(functionURLs string) Names {
	return NamesFrom(instance.ParseFunctionURLs(functionURLs))
}

// NamesFrom names the functions by their base URLs.
func NamesFrom(fns []instance.Function) Names {
	n := Names{}
	for _, f := range fns {
		if u, err := url.Parse(f.URL); err == nil && u.Host != "" {
			n[u.Host] = f.Name
		}
	}
	return n
}

// Consumer names who failed e: the KafkaSource whose source wraps a plain
// record; else the function delivery failed to: the one of the running
// nova run at that address, or in a cluster the service (the first label
// of the sink's host name, a function's Knative Service); else the sink's
// address.
func (n Names) Consumer(e store.Entry) string {
	if _, rest, ok := strings.Cut(e.Source, "/kafkasources/"); ok {
		if name, _, ok := strings.Cut(rest, "#"); ok && name != "" {
			return name
		}
	}
	u, err := url.Parse(e.ErrorDest)
	if err != nil || u.Host == "" {
		if e.ErrorDest == "" {
			return "unknown consumer"
		}
		return e.ErrorDest
	}
	if name, ok := n[u.Host]; ok {
		return name
	}
	if h := u.Hostname(); net.ParseIP(h) == nil && h != "localhost" {
		name, _, _ := strings.Cut(h, ".")
		return name
	}
	return strings.TrimSuffix(u.Host+u.Path, "/")
}

// Consumers names who failed entries, each once, sorted.
func (n Names) Consumers(entries []store.Entry) []string {
	var names []string
	for _, e := range entries {
		if c := n.Consumer(e); !slices.Contains(names, c) {
			names = append(names, c)
		}
	}
	slices.Sort(names)
	return names
}
