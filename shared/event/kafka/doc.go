// Package kafka is Nova's Kafka transport on Sarama: a Producer that writes
// CloudEvents as binary-mode records (ce_ headers, the event's partitionkey
// as the record key, murmur2 partitioning shared with the Java client and
// librdkafka), EventFromRecord, which reads any record back as the
// CloudEvent a Knative KafkaSource would deliver, and CloudEventFromRecord,
// which reads it as the Knative Kafka Broker does (CloudEvents only).
package kafka
