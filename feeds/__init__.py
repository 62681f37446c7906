"""Feeds: transports (MQTT, HTTP, file) × decoders (bytes → unified records), normalization and feed health."""
