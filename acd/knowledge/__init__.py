"""Knowledge cards for agents (``config/knowledge/*.md``): loaded and matched in ``cards``, shown
on the screen-pop by ``popsection``."""
