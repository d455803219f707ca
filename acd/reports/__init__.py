"""Reports (issue 6): interval statistics per queue and per agent, CSV and text tables, and an
Asterisk ``queue_log`` compatible export, all computed from the stored interaction records."""
