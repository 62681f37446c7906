"""The demo city's simulator: thousands of devices of Baoding publishing over MQTT, with scripted scenarios."""
