"""Telling people off the screen: notifications from the store's outbox, delivered over webhooks, e-mail, group robots
and MQTT, by the subscriptions of the city's organisation."""
