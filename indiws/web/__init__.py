"""The web layer: thin tornado handlers over the service."""
