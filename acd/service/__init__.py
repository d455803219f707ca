"""Services: the adapters that drive the pure core over Asterisk (AMI + FastAGI)."""
