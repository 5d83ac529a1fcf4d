"""The QDevice conformance kit (needs pytest): subclass
:class:`qnodeos.hal.conformance.kit.QDeviceConformance` in a driver's tests and provide a
``qdevice`` fixture (and optionally ``qdevice_pair``); see :mod:`qnodeos.hal.conformance.kit`.

Kept import-free so that ``import qnodeos.hal`` never pulls in pytest.
"""
