// Package broker is Shoal's Kafka plumbing outside the consumer: the
// embedded Kafka-protocol broker (kfake) that runs when no brokers are
// configured, topic administration (create the topics, read their end
// offsets) and the acks=all writer every producer of Shoal's uses.
//
// It knows nothing of events, people or DuckDB and never decodes a
// message. The embedded broker has no authentication, so it listens on
// loopback only (CheckLoopback, checked again on the address it bound) and
// keeps its log under the data directory.
package broker
