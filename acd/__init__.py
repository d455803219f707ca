"""acd: an asyncio contact-centre engine that drives Asterisk over AMI and FastAGI."""

__version__ = "0.1.0"
