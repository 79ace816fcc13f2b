"""crobook: data, checks and charts behind the Biotech–CRO Evidence Book."""

__version__ = "0.1.0"
