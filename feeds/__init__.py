"""Feeds: where the bytes come from × what they mean, then normalization and feed health.

transports.py registers the transports (mqtt.py, http.py, file.py, each with the settings model of its `[[feeds]]`
tables on settings.FeedBase); decoders/ registers the formats, each built from a feed's settings; decoding.py turns
one payload into records or a dead letter, the same way for every transport; health.py tells the store what the
transports see of their feeds' health (store/feed_health.py decides what it means).
"""
