package console

import (
	"strings"

	"github.com/nova-social/nova/shared/event/kafka"
)

type kafkaSecurity = kafka.Security

func contains(s, sub string) bool { return strings.Contains(s, sub) }
