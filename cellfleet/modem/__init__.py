"""AT command layer, virtual modem and serial driver (see the open issues; nothing here yet)."""
