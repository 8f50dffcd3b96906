package delivery

// The extensions on an event sent to a dead-letter sink. The first three
// are Knative's (its dispatcher sets them on every dead-lettered event); the
// Kafka coordinates are set by Nova's local dispatcher, so the dead-letter
// store can say where the event was read. A cluster's KafkaSource does not
// set them; for records it wrapped itself the id and source say it instead.
const (
	ExtErrorDest      = "knativeerrordest"
	ExtErrorCode      = "knativeerrorcode"
	ExtErrorData      = "knativeerrordata"
	ExtKafkaTopic     = "knativekafkatopic"
	ExtKafkaPartition = "knativekafkapartition"
	ExtKafkaOffset    = "knativekafkaoffset"
)
