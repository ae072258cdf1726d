"""AT commands for cellular modules (issue 5): the AT codec (``codec``: ``command_line`` for the
modem side, ``responses`` for the host side, ``errors``, ``urc``), the virtual modem (``virtual``
with its command handlers ``cmd_*`` and ``sockets_*``, ``profiles``, the device behind it in
``device`` and ``sim_device``), its pty server (``pty_server``, ``control``, ``cli``) and the driver
for real modems (``driver*``, ``timeouts``, ``rawlog``, ``plan*``, ``driver_cli``)."""
