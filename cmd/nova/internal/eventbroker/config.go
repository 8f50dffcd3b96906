package eventbroker

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nova-social/nova/shared/event/kafka"
)

// Keys of the kafka-broker-config ConfigMap.
const (
	ConfigBootstrapServers  = "bootstrap.servers"
	ConfigPartitions        = "default.topic.partitions"
	ConfigReplication       = "default.topic.replication.factor"
	ConfigTopicConfigPrefix = "default.topic.config."
	ConfigAuthSecret        = "auth.secret.ref.name" //nolint:gosec // a ConfigMap key, not a credential
)

// TopicConfig is a Broker's kafka-broker-config ConfigMap: where its topic
// lives and how the controller creates it.
type TopicConfig struct {
	// BootstrapServers is bootstrap.servers, split on commas, blanks and
	// empty entries dropped.
	BootstrapServers []string
	Partitions       int32
	Replication      int16
	// TopicConfig holds the default.topic.config.<name> entries, by name.
	TopicConfig map[string]string
	// AuthSecret is auth.secret.ref.name; informative locally, where the
	// runtime's own Kafka needs no credentials.
	AuthSecret string
}

// ParseTopicConfig reads a kafka-broker-config ConfigMap's data as the
// Kafka Broker's controller does. What makes its Broker never ready there
// (no bootstrap servers, partitions or replication factor missing or not
// above zero) is an error here.
func ParseTopicConfig(data map[string]string) (TopicConfig, error) {
	var (
		c    TopicConfig
		errs []error
	)
	c.BootstrapServers = kafka.ParseBrokers(data[ConfigBootstrapServers])
	if len(c.BootstrapServers) == 0 {
		errs = append(errs, fmt.Errorf("%s: no bootstrap servers", ConfigBootstrapServers))
	}
	if p, err := strconv.ParseInt(strings.TrimSpace(data[ConfigPartitions]), 10, 32); err != nil || p <= 0 {
		errs = append(errs, fmt.Errorf("%s: %q is not a number of partitions above zero", ConfigPartitions, data[ConfigPartitions]))
	} else {
		c.Partitions = int32(p)
	}
	if r, err := strconv.ParseInt(strings.TrimSpace(data[ConfigReplication]), 10, 16); err != nil || r <= 0 {
		errs = append(errs, fmt.Errorf("%s: %q is not a replication factor above zero", ConfigReplication, data[ConfigReplication]))
	} else {
		c.Replication = int16(r)
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if name, ok := strings.CutPrefix(k, ConfigTopicConfigPrefix); ok && name != "" {
			if c.TopicConfig == nil {
				c.TopicConfig = map[string]string{}
			}
			c.TopicConfig[name] = data[k]
		}
	}
	c.AuthSecret = data[ConfigAuthSecret]
	return c, errors.Join(errs...)
}
