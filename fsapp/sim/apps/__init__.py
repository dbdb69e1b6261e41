"""The emulator's dialplan applications, one module per application family.

Each module registers its applications with `fsapp.sim.registry.application` when it is
imported; `registry.discover()` imports every module here. A module reaches the switch
only through the channel's `services` (fsapp/sim/services.py) and may import the layers
below it (base, channel, endpoints) and other modules here; nothing below imports it.
"""
