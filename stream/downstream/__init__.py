"""The downstream consumers' shared machinery: settings, Kafka clients, the one consume loop, process life.

The Slack notifier (:mod:`stream.slack`) and the Snowflake sink
(:mod:`stream.sink`) read the worker's output with plain aiokafka clients and
manual commits; both run :class:`stream.downstream.loop.ConsumerLoop`, so the
poison-pill policy and the commit rule are written once.
"""
