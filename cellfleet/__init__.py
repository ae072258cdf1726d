"""cellfleet: emulate fleets of cellular IoT modules and the connectivity platform they live on."""

__version__ = "0.1.0"
