"""Networks, cores, outages, wire overhead and pcap (see the open issues; nothing here yet)."""
