"""The Telegram bot and the `maskbot` command line: wires `model` and `storage` together."""
