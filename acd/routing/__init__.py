"""The pure ACD core: agent and call state machines and the routing decisions.

No I/O and an injected clock: it takes events and returns decisions, so it is tested without
sockets and can be replayed from records. ``acd.service.acd`` drives it over AMI and FastAGI.
"""
